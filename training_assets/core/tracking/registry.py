"""The MLflow model registry: the champion a new model is judged against, and registering a
gated model with the alias moved to it."""

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from training_assets.core.tracking.lineage import LINEAGE_PREFIX, REPRODUCIBILITY_KEYS

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


REGISTERED = "registered"
ALREADY_REGISTERED = "already_registered"
UNCHANGED = "unchanged"


def register_with_alias(
    client: mlflow.MlflowClient, model_name: str, alias: str, model_uri: str, run_id: str
) -> tuple[ModelVersion, str]:
    """Register the logged model `model_uri` of `run_id` and move `alias` to it.

    The version carries the run's lineage tags, so the alias leads to data and code. A model
    that is already a version (a re-executed run) is not registered twice, and a model trained
    on the same data, code and config as the current `alias` version is not registered at all:
    it would be the same model under a new number.

    Returns:
        The version `alias` points at afterwards, and what happened: REGISTERED,
        ALREADY_REGISTERED or UNCHANGED (nothing registered, the alias stays).
    """
    run_tags = client.get_run(run_id).data.tags
    current = champion_version(client, model_name, alias)
    if current is not None and current.run_id != run_id and _same_lineage(run_tags, current.tags):
        return current, UNCHANGED
    existing = [
        version
        for version in client.search_model_versions(f"name='{model_name}'")
        if version.source == model_uri or version.run_id == run_id
    ]
    if existing:
        version, outcome = existing[0], ALREADY_REGISTERED
    else:
        tags = {key: value for key, value in run_tags.items() if not key.startswith("mlflow.")}
        version, outcome = mlflow.register_model(model_uri, model_name, tags=tags), REGISTERED
    client.set_registered_model_alias(model_name, alias, version.version)
    return version, outcome


def _same_lineage(run_tags: dict[str, str], version_tags: dict[str, str]) -> bool:
    """Whether both name the same data, code and config (every key present in both)."""
    keys = [f"{LINEAGE_PREFIX}{key}" for key in REPRODUCIBILITY_KEYS]
    return all(run_tags.get(key) and run_tags.get(key) == version_tags.get(key) for key in keys)
