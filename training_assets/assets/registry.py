"""The registered model version that passed every gate."""

from dagster import AssetExecutionContext, asset

from training_assets.resources.mlflow import MlflowTracking, ModelRegistry


@asset(group_name="training", io_manager_key="json_io_manager", kinds={"mlflow"}, code_version="1")
def registered_model_version(
    context: AssetExecutionContext,
    trained_model: dict,
    evaluation: dict,
    mlflow_tracking: MlflowTracking,
    model_registry: ModelRegistry,
) -> dict:
    """The gated model registered in MLflow, with the champion alias moved to it."""
    client = mlflow_tracking.tracking.tracking_client
    name = model_registry.model_name
    model_uri = trained_model["model_uri"]
    # A re-executed run must not add a second version of the same logged model.
    existing = [
        version
        for version in client.search_model_versions(f"name='{name}'")
        if version.source == model_uri or version.run_id == trained_model["run_id"]
    ]
    if existing:
        version = existing[0]
        context.log.info(f"{model_uri} is already version {version.version}; not registering again")
    else:
        # The version carries the run's lineage tags, so the alias leads to data and code.
        lineage = client.get_run(trained_model["run_id"]).data.tags
        tags = {key: value for key, value in lineage.items() if not key.startswith("mlflow.")}
        version = mlflow_tracking.tracking.register_model(model_uri, name, tags=tags)
    client.set_registered_model_alias(name, model_registry.alias, version.version)
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
