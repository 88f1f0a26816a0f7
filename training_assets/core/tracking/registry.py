"""The MLflow model registry: the champion a new model is judged against, and registering a
gated model with the alias moved to it."""

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

DEFAULT_EXPERIMENT = "driver-trip-completion"
DEFAULT_MODEL_NAME = "sklearn-elastic-net-reg"
DEFAULT_ALIAS = "champion"


def champion_version(
    client: mlflow.MlflowClient, model_name: str, alias: str
) -> ModelVersion | None:
    """The version `alias` points at, or None when there is none yet.

    Only "no such model" and "no such alias" mean no champion. Any other error (a server
    error, a permission refused) is raised: read as "no champion", it would pass the gates
    that compare against the champion and move the alias.
    """
    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        # Stores answer a missing alias of an existing model with INVALID_PARAMETER_VALUE, as
        # they do a malformed request; the model's own alias list tells the two apart.
        if error.error_code == "INVALID_PARAMETER_VALUE":
            if alias not in client.get_registered_model(model_name).aliases:
                return None
        raise


def register_with_alias(
    client: mlflow.MlflowClient, model_name: str, alias: str, model_uri: str, run_id: str
) -> tuple[ModelVersion, bool]:
    """Register the logged model `model_uri` of `run_id` and move `alias` to it.

    The version carries the run's lineage tags, so the alias leads to data and code. A model
    that is already a version (a re-executed run) is not registered twice.

    Returns:
        The version, and whether it was registered by this call.
    """
    existing = [
        version
        for version in client.search_model_versions(f"name='{model_name}'")
        if version.source == model_uri or version.run_id == run_id
    ]
    if existing:
        version, created = existing[0], False
    else:
        lineage = client.get_run(run_id).data.tags
        tags = {key: value for key, value in lineage.items() if not key.startswith("mlflow.")}
        version, created = mlflow.register_model(model_uri, model_name, tags=tags), True
    client.set_registered_model_alias(model_name, alias, version.version)
    return version, created
