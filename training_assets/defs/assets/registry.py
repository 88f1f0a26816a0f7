"""The registered model version that passed every gate."""

from dagster import AssetExecutionContext, Failure, asset

from training_assets.core.tracking.registry import (
    ALREADY_REGISTERED,
    UNCHANGED,
    ChampionMoved,
    register_with_alias,
)
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
    try:
        version, outcome = register_with_alias(
            mlflow_tracking.tracking.tracking_client,
            name,
            model_registry.alias,
            model_uri,
            trained_model["run_id"],
            expected_champion=evaluation.get("champion_version"),
        )
    except ChampionMoved as moved:
        raise Failure(
            description=str(moved),
            metadata={
                "expected_champion": str(evaluation.get("champion_version")),
                "model_uri": model_uri,
            },
        ) from None
    if outcome == ALREADY_REGISTERED:
        context.log.info(f"{model_uri} is already version {version.version}; not registering again")
    elif outcome == UNCHANGED:
        context.log.info(
            f"Same data, code and config as {model_registry.alias} v{version.version}: "
            "nothing new registered; the alias stays"
        )
    record = {
        "name": name,
        "version": int(version.version),
        "alias": model_registry.alias,
        # The version in force: this run's model, or the unchanged champion's.
        "model_uri": version.source,
        "run_id": version.run_id,
        "trained_run_id": trained_model["run_id"],
        "rmse": evaluation["rmse"],
        "outcome": outcome,
    }
    context.add_output_metadata(
        {
            "version": record["version"],
            "outcome": outcome,
            "alias_uri": model_registry.champion_uri(),
            "model_uri": version.source,
        }
    )
    return record
