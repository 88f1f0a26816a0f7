"""The registered model version that passed every gate."""

from dagster import AssetExecutionContext, asset

from training_assets.config import RegistryConfig
from training_assets.resources.mlflow import MlflowTracking


@asset(group_name="training", io_manager_key="json_io_manager", kinds={"mlflow"})
def registered_model_version(
    context: AssetExecutionContext,
    config: RegistryConfig,
    trained_model: dict,
    evaluation: dict,
    mlflow_tracking: MlflowTracking,
) -> dict:
    """The gated model registered in MLflow, with the champion alias moved to it."""
    client = mlflow_tracking.tracking.tracking_client
    model_uri = trained_model["model_uri"]
    # A re-executed run must not add a second version of the same logged model.
    existing = [
        version
        for version in client.search_model_versions(f"name='{config.model_name}'")
        if version.source == model_uri or version.run_id == trained_model["run_id"]
    ]
    if existing:
        version = existing[0]
        context.log.info(f"{model_uri} is already version {version.version}; not registering again")
    else:
        version = mlflow_tracking.tracking.register_model(
            model_uri,
            config.model_name,
            tags={"dagster_run_id": context.run.run_id, "mlflow_run_id": trained_model["run_id"]},
        )
    client.set_registered_model_alias(config.model_name, config.alias, version.version)
    record = {
        "name": config.model_name,
        "version": int(version.version),
        "alias": config.alias,
        "model_uri": model_uri,
        "run_id": trained_model["run_id"],
        "rmse": evaluation["rmse"],
    }
    context.add_output_metadata(
        {
            "version": record["version"],
            "alias_uri": f"models:/{config.model_name}@{config.alias}",
            "model_uri": model_uri,
        }
    )
    return record
