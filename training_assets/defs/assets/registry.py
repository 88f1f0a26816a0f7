"""The registered model version that passed every gate."""

from dagster import AssetExecutionContext, asset

from training_assets.core.tracking.registry import register_with_alias
from training_assets.defs.resources.mlflow import MlflowTracking, ModelRegistry


@asset(group_name="training", io_manager_key="json_io_manager", kinds={"mlflow"}, code_version="1")
def registered_model_version(
    context: AssetExecutionContext,
    trained_model: dict,
    evaluation: dict,
    mlflow_tracking: MlflowTracking,
    model_registry: ModelRegistry,
) -> dict:
    """The gated model registered in MLflow, with the champion alias moved to it."""
    name, model_uri = model_registry.model_name, trained_model["model_uri"]
    version, created = register_with_alias(
        mlflow_tracking.tracking.tracking_client,
        name,
        model_registry.alias,
        model_uri,
        trained_model["run_id"],
    )
    if not created:
        context.log.info(f"{model_uri} is already version {version.version}; not registering again")
    record = {
        "name": name,
        "version": int(version.version),
        "alias": model_registry.alias,
        "model_uri": model_uri,
        "run_id": trained_model["run_id"],
        "rmse": evaluation["rmse"],
    }
    context.add_output_metadata(
        {
            "version": record["version"],
            "alias_uri": model_registry.champion_uri(),
            "model_uri": model_uri,
        }
    )
    return record
