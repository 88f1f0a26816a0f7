"""Batch scoring of request files with the champion and point-in-time features from Feast."""

import pandas as pd
from dagster import AssetExecutionContext, Failure, MetadataValue, asset

from training_assets.core.data.locations import LocationError
from training_assets.core.data.orders import OrdersError
from training_assets.core.ml.batch import FEATURES_FOUND, score
from training_assets.core.ml.table import with_order_position
from training_assets.defs.assets.feature_store import feature_store
from training_assets.defs.assets.registry import champion_model
from training_assets.defs.instance_reads import retried
from training_assets.defs.resources.batch_requests import BatchRequests
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.defs.tags import CHAMPION_VERSION_TAG, OWNERS


@asset(
    owners=OWNERS,
    group_name="serving",
    deps=[champion_model, feature_store, "driver_stats_source"],
    kinds={"mlflow", "feast", "parquet"},
    code_version="1",
)
def batch_predictions(
    context: AssetExecutionContext,
    batch_requests: BatchRequests,
    feast: FeastResource,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
) -> pd.DataFrame:
    """The request files' rows (event_timestamp, driver_id) scored by @champion: each row with
    the features it was scored on as of its own time, whether it found them
    (`features_found`), the prediction, and the model version."""
    try:
        requests = batch_requests.read()
    except (OrdersError, LocationError) as error:
        raise Failure(description=str(error)) from None
    files = batch_requests.files()
    client = mlflow_store.configure_client()
    pinned = context.run.tags.get(CHAMPION_VERSION_TAG)
    if pinned:
        # The version the scoring sensor saw: the run scores with what its key names.
        version = int(pinned)
    else:
        champion = model_registry.champion(client)
        if champion is None:
            raise Failure(
                description=f"{model_registry.champion_uri()} does not exist yet: train a "
                "model (or, with manual promotion, promote one) first"
            )
        # Resolved once, so every row is scored by the same model even if the alias moves.
        version = int(champion.version)
        retried(
            lambda: context.instance.add_run_tags(
                context.run.run_id, {CHAMPION_VERSION_TAG: str(version)}
            ),
            "this run's tags",
        )
    with feast.retried_on_outage():
        schema = feast.training_schema()
        joined = feast.historical_features(with_order_position(requests))
    scored = score(client, joined, schema, model_registry.model_name, version)
    context.add_output_metadata(
        {
            "dagster/row_count": len(scored),
            "model_version": version,
            "model_uri": f"models:/{model_registry.model_name}/{version}",
            "requests": MetadataValue.json([str(path) for path in files]),
            "rows_without_features": int((~scored[FEATURES_FOUND]).sum()),
            "mean_prediction": float(scored["prediction"].mean()) if len(scored) else 0.0,
        }
    )
    return scored
