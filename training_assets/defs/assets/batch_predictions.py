"""Batch scoring of request files with the champion and point-in-time features from Feast, per
day of the requests' event time; a challenger that is not the champion scores the same rows
in shadow."""

from datetime import UTC, datetime

import pandas as pd
from dagster import AssetExecutionContext, BackfillPolicy, Failure, MetadataValue, asset

from training_assets.core.data.locations import LocationError
from training_assets.core.data.orders import OrdersError, read_requests
from training_assets.core.ml.batch import (
    FEATURES_FOUND,
    PREDICTION,
    Scored,
    log_rows,
    new_prediction_ids,
    predict,
    score,
)
from training_assets.core.ml.table import with_order_position
from training_assets.core.monitoring.days import event_days
from training_assets.core.monitoring.prediction_log import CHALLENGER, CHAMPION
from training_assets.core.records import ByPartition
from training_assets.core.schema import EVENT_TIMESTAMP
from training_assets.core.tracking import registry
from training_assets.defs.assets.feature_store import feature_store
from training_assets.defs.assets.registry import champion_model
from training_assets.defs.instance_reads import retried
from training_assets.defs.partitions import serving_days
from training_assets.defs.resources.batch_requests import BatchRequests
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.defs.resources.prediction_log import PredictionLogResource
from training_assets.defs.tags import (
    CHALLENGER_VERSION_TAG,
    CHAMPION_VERSION_TAG,
    NO_CHALLENGER,
    OWNERS,
)

PREDICTION_ID = "prediction_id"


@asset(
    owners=OWNERS,
    group_name="serving",
    deps=[champion_model, feature_store, "driver_stats_source"],
    kinds={"mlflow", "feast", "parquet"},
    code_version="2",
    partitions_def=serving_days,
    # The days of a request file are scored in one run: one read, one join, one model load.
    backfill_policy=BackfillPolicy.single_run(),
)
def batch_predictions(
    context: AssetExecutionContext,
    batch_requests: BatchRequests,
    feast: FeastResource,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
    prediction_log: PredictionLogResource,
) -> ByPartition:
    """The request files' rows (event_timestamp, driver_id) of the run's days scored by
    @champion: each row with its prediction id, the features it was scored on as of its own
    time, whether it found them (`features_found`), the prediction, and the model version;
    every row logged in the prediction log, with @challenger's shadow score beside it."""
    try:
        files = batch_requests.listed()
        requests = read_requests(files)
    except (OrdersError, LocationError) as error:
        raise Failure(description=str(error)) from None
    window = context.partition_time_window
    times = requests[EVENT_TIMESTAMP]
    in_days = requests[(times >= window.start) & (times < window.end)].reset_index(drop=True)
    version, challenger = _scoring_versions(context, mlflow_store, model_registry)
    with feast.retried_on_outage():
        schema = feast.training_schema()
        joined = feast.historical_features(with_order_position(in_days))
    client = mlflow_store.configure_client()
    scored = score(client, joined, schema, model_registry.model_name, version)
    scored.insert(0, PREDICTION_ID, new_prediction_ids(len(scored)))
    at = datetime.now(UTC)
    answers = [_scored(scored, CHAMPION, model_registry.model_name, version, at)]
    if challenger is not None:
        shadow = predict(client, scored, schema, model_registry.model_name, challenger)
        ids = new_prediction_ids(len(scored))
        answers.append(Scored(CHALLENGER, model_registry.model_name, challenger, shadow, ids, at))
    writer, sink, sequence = f"batch-{context.run.run_id}", prediction_log.sink(), 1
    for answer in answers:
        sink.write(log_rows(scored, schema.feature_names, answer, writer, sequence))
        sequence += len(scored)
    context.add_output_metadata(
        {
            "dagster/row_count": len(scored),
            "model_version": version,
            "model_uri": f"models:/{model_registry.model_name}/{version}",
            "shadow_version": MetadataValue.text(str(challenger or NO_CHALLENGER)),
            "requests": MetadataValue.json([str(path) for path in files.paths]),
            "rows_in_other_days": len(requests) - len(in_days),
            "rows_without_features": int((~scored[FEATURES_FOUND]).sum()),
            "mean_prediction": float(scored[PREDICTION].mean()) if len(scored) else 0.0,
            "logged_rows": len(scored) * len(answers),
        }
    )
    days = event_days(scored[EVENT_TIMESTAMP])
    return ByPartition(
        {
            key: scored[days == day].reset_index(drop=True)
            for key, day in zip(context.partition_keys, _days(context.partition_keys), strict=True)
        }
    )


def _days(keys: list[str]):
    return [datetime.fromisoformat(key).date() for key in keys]


def _scored(frame: pd.DataFrame, role: str, name: str, version: int, at: datetime) -> Scored:
    return Scored(role, name, version, frame[PREDICTION].to_numpy(), frame[PREDICTION_ID], at)


def _scoring_versions(
    context: AssetExecutionContext, mlflow_store: MlflowStore, model_registry: ModelRegistry
) -> tuple[int, int | None]:
    """The champion that answers and the challenger scored in shadow (None when there is none
    or it is the champion): as the scoring sensor pinned them in the run's tags, else resolved
    once here and recorded, so every row is scored by the same models even if an alias moves."""
    tags = context.run.tags
    if tags.get(CHAMPION_VERSION_TAG):
        pinned = tags.get(CHALLENGER_VERSION_TAG, NO_CHALLENGER)
        return int(tags[CHAMPION_VERSION_TAG]), None if pinned == NO_CHALLENGER else int(pinned)
    client = mlflow_store.configure_client()
    champion = model_registry.champion(client)
    if champion is None:
        raise Failure(
            description=f"{model_registry.champion_uri()} does not exist yet: train a "
            "model (or, with manual promotion, promote one) first"
        )
    version = int(champion.version)
    challenger = shadow_version(client, model_registry, version)
    retried(
        lambda: context.instance.add_run_tags(
            context.run.run_id,
            {
                CHAMPION_VERSION_TAG: str(version),
                CHALLENGER_VERSION_TAG: str(challenger or NO_CHALLENGER),
            },
        ),
        "this run's tags",
    )
    return version, challenger


def shadow_version(client, model_registry: ModelRegistry, champion: int) -> int | None:
    """The @challenger's version when it is not the champion: scored in shadow, never
    returned."""
    found = registry.champion_version(
        client, model_registry.model_name, model_registry.challenger_alias
    )
    if found is None or int(found.version) == champion:
        return None
    return int(found.version)
