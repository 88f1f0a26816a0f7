"""Batch scoring of request files with the champion and point-in-time features from Feast."""

import pandas as pd
from dagster import AssetExecutionContext, Failure, MetadataValue, asset

from training_assets.core.data.orders import OrdersError
from training_assets.core.ml.batch import score
from training_assets.core.ml.table import with_order_position
from training_assets.defs.assets.feature_store import feature_store
from training_assets.defs.assets.registry import champion_model
from training_assets.defs.resources.batch_requests import BatchRequests
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.defs.tags import OWNERS, TAG_PREFIX

SCORED_BY_TAG = f"{TAG_PREFIX}/scored_by_version"


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
    the features it was scored on as of its own time, the prediction, and the model version."""
    try:
        requests = batch_requests.read()
    except OrdersError as error:
        raise Failure(description=str(error)) from None
    client = mlflow_store.configure_client()
    champion = model_registry.champion(client)
    if champion is None:
        raise Failure(
            description=f"{model_registry.champion_uri()} does not exist yet: train a model first"
        )
    # The version is resolved once, so every row is scored by the same model even if the
    # alias moves meanwhile.
    version = int(champion.version)
    context.instance.add_run_tags(context.run_id, {SCORED_BY_TAG: str(version)})
    with feast.retried_on_outage():
        schema = feast.training_schema()
        joined = feast.historical_features(with_order_position(requests))
    scored = score(joined, schema, model_registry.model_name, version)
    context.add_output_metadata(
        {
            "dagster/row_count": len(scored),
            "model_version": version,
            "model_uri": f"models:/{model_registry.model_name}/{version}",
            "requests": MetadataValue.json([str(path) for path in batch_requests.files()]),
            "rows_without_features": int(
                scored[list(schema.feature_names)].isna().all(axis=1).sum()
            ),
            "mean_prediction": float(scored["prediction"].mean()) if len(scored) else 0.0,
        }
    )
    return scored
