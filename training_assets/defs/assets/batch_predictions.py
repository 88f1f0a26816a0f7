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
from training_assets.core.monitoring.prediction_log import CHALLENGER, CHAMPION, PREVIOUS
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
    PREVIOUS_VERSION_TAG,
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
    version, shadows = _scoring_versions(context, mlflow_store, model_registry)
    with feast.retried_on_outage():
        schema = feast.training_schema()
        joined = feast.historical_features(with_order_position(in_days))
    client = mlflow_store.configure_client()
    scored = score(client, joined, schema, model_registry.model_name, version)
    scored.insert(0, PREDICTION_ID, new_prediction_ids(len(scored)))
    at = datetime.now(UTC)
    answers = [_scored(scored, CHAMPION, model_registry.model_name, version, at)]
    for role, shadow_version in shadows.items():
        shadow = predict(client, scored, schema, model_registry.model_name, shadow_version)
        ids = new_prediction_ids(len(scored))
        answers.append(Scored(role, model_registry.model_name, shadow_version, shadow, ids, at))
    writer, sink, sequence = f"batch-{context.run.run_id}", prediction_log.sink(), 1
    for answer in answers:
        sink.write(log_rows(scored, schema.feature_names, answer, writer, sequence))
        sequence += len(scored)
    context.add_output_metadata(
        {
            "dagster/row_count": len(scored),
            "model_version": version,
            "model_uri": f"models:/{model_registry.model_name}/{version}",
            "shadow_version": MetadataValue.text(str(shadows.get(CHALLENGER, NO_CHALLENGER))),
            "previous_version": MetadataValue.text(str(shadows.get(PREVIOUS, NO_CHALLENGER))),
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
) -> tuple[int, dict[str, int]]:
    """The champion that answers and the versions scored in shadow, by role (`shadow_versions`):
    as the scoring sensor pinned them in the run's tags, else resolved once here and recorded,
    so every row is scored by the same models even if an alias moves."""
    tags = context.run.tags
    if tags.get(CHAMPION_VERSION_TAG):
        return int(tags[CHAMPION_VERSION_TAG]), pinned_shadows(tags)
    client = mlflow_store.configure_client()
    champion = model_registry.champion(client)
    if champion is None:
        raise Failure(
            description=f"{model_registry.champion_uri()} does not exist yet: train a "
            "model (or, with manual promotion, promote one) first"
        )
    shadows = shadow_versions(client, model_registry, champion)
    retried(
        lambda: context.instance.add_run_tags(
            context.run.run_id,
            {CHAMPION_VERSION_TAG: str(champion.version), **shadow_tags(shadows)},
        ),
        "this run's tags",
    )
    return int(champion.version), shadows


def shadow_versions(client, model_registry: ModelRegistry, champion) -> dict[str, int]:
    """The versions scored in shadow beside `champion`, never returned: the @challenger when it
    is not the champion, and the champion it replaced (its `.previous` move record) when that
    is neither, so that a promotion is judged live against what it replaced. A champion that
    came back by a rollback has no previous one scored: a rollback is not judged again."""
    shadows = {}
    challenger = registry.champion_version(
        client, model_registry.model_name, model_registry.challenger_alias
    )
    if challenger is not None and challenger.version != champion.version:
        shadows[CHALLENGER] = int(challenger.version)
    previous = registry.previous_champion(champion, model_registry.alias)
    if previous is not None and previous != shadows.get(CHALLENGER):
        shadows[PREVIOUS] = previous
    return shadows


def shadow_tags(shadows: dict[str, int]) -> dict[str, str]:
    """The run tags that pin the shadow versions."""
    return {
        CHALLENGER_VERSION_TAG: str(shadows.get(CHALLENGER, NO_CHALLENGER)),
        PREVIOUS_VERSION_TAG: str(shadows.get(PREVIOUS, NO_CHALLENGER)),
    }


def pinned_shadows(tags: dict[str, str]) -> dict[str, int]:
    """The shadow versions a run's tags pin (a run tagged before the previous champion was
    scored pins none)."""
    pinned = {
        CHALLENGER: tags.get(CHALLENGER_VERSION_TAG, NO_CHALLENGER),
        PREVIOUS: tags.get(PREVIOUS_VERSION_TAG, NO_CHALLENGER),
    }
    return {role: int(value) for role, value in pinned.items() if value != NO_CHALLENGER}
