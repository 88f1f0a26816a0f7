"""The MLflow model registry: the champion a new model is judged against, and registering a
gated model with the alias moved to it."""

import re

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from training_assets.core import faults
from training_assets.core.tracking.lineage import LINEAGE_PREFIX, REPRODUCIBILITY_KEYS

DEFAULT_EXPERIMENT = "driver-trip-completion"
DEFAULT_MODEL_NAME = "sklearn-elastic-net-reg"
DEFAULT_ALIAS = "champion"

# Names that MLflow's search filters can hold unquoted: registry searches splice the model name
# into a filter string (MLflow has no parameters there), so anything else is refused up front.
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$"
ALIAS_PATTERN = r"^[A-Za-z_][A-Za-z0-9_\-]{0,199}$"


def check_model_name(model_name: str) -> str:
    """`model_name`, when it is letters, digits, `_`, `.` and `-`.

    Raises:
        ValueError: naming the model name, before anything reaches the registry.
    """
    if not re.match(MODEL_NAME_PATTERN, model_name):
        raise ValueError(
            f"model name {model_name!r} must be letters, digits, '_', '.' or '-' "
            "(starting with a letter or digit)"
        )
    return model_name


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

# A version is tagged pending from register_model until its alias is set; a crash in between
# leaves it pending, and the next registration finishes or removes it.
REGISTRATION_TAG = f"{LINEAGE_PREFIX}registration"
PENDING, COMPLETE = "pending", "complete"
# `expected_champion` when the caller did not read the champion before: no check.
UNCHECKED = object()


class ChampionMoved(RuntimeError):
    """The alias moved after this run's gates compared against the champion."""


def register_with_alias(
    client: mlflow.MlflowClient,
    model_name: str,
    alias: str,
    model_uri: str,
    run_id: str,
    expected_champion: "int | None | object" = UNCHECKED,
) -> tuple[ModelVersion, str]:
    """Register the logged model `model_uri` of `run_id` and move `alias` to it.

    The version carries the run's lineage tags, so the alias leads to data and code. A model
    that is already a version (a re-executed run) is not registered twice, and a model trained
    on the same data, code and config as the current `alias` version is not registered at all:
    it would be the same model under a new number. Versions that a crashed registration left
    pending are finished (the alias reached them) or removed (their run is over) first.

    Args:
        expected_champion: The champion version the gates compared against (None: there was
            none). When the alias points elsewhere now, another run registered meanwhile.

    Returns:
        The version `alias` points at afterwards, and what happened: REGISTERED,
        ALREADY_REGISTERED or UNCHANGED (nothing registered, the alias stays).

    Raises:
        ChampionMoved: naming the version compared against and the one found.
    """
    check_model_name(model_name)
    run_tags = client.get_run(run_id).data.tags
    finish_or_remove_pending(client, model_name, alias, keep_run=run_id)
    current = champion_version(client, model_name, alias)
    found = None if current is None else int(current.version)
    if (
        expected_champion is not UNCHECKED
        and found != expected_champion
        and (current is None or current.run_id != run_id)
    ):
        raise ChampionMoved(
            f"{model_name}@{alias} is version {found} now, but this run's gates compared "
            f"against version {expected_champion}: another run registered meanwhile. Nothing "
            "was registered; run again to judge this model against the new champion."
        )
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
        tags[REGISTRATION_TAG] = PENDING
        version, outcome = mlflow.register_model(model_uri, model_name, tags=tags), REGISTERED
        faults.point(faults.AFTER_REGISTER)
    client.set_registered_model_alias(model_name, alias, version.version)
    client.set_model_version_tag(model_name, version.version, REGISTRATION_TAG, COMPLETE)
    return version, outcome


def finish_or_remove_pending(
    client: mlflow.MlflowClient, model_name: str, alias: str, keep_run: str | None = None
) -> dict[str, list[int]]:
    """Versions left pending by a registration that crashed: finished when the alias reached
    them, removed when their MLflow run is over; one whose run is still running (a registration
    in progress) and those of `keep_run` are left alone.

    Returns:
        The versions finished and removed.
    """
    done: dict[str, list[int]] = {"finished": [], "removed": []}
    try:
        versions = client.search_model_versions(
            f"name='{model_name}' and tags.`{REGISTRATION_TAG}` = '{PENDING}'"
        )
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return done
        raise
    # Searches do not return aliases on every store; ask for the alias itself.
    champion = champion_version(client, model_name, alias) if versions else None
    for version in versions:
        if version.run_id == keep_run:
            continue
        if champion is not None and champion.version == version.version:
            client.set_model_version_tag(model_name, version.version, REGISTRATION_TAG, COMPLETE)
            done["finished"].append(int(version.version))
        elif client.get_run(version.run_id).info.status != "RUNNING":
            client.delete_model_version(model_name, version.version)
            done["removed"].append(int(version.version))
    return done


def _same_lineage(run_tags: dict[str, str], version_tags: dict[str, str]) -> bool:
    """Whether both name the same data, code and config (every key present in both)."""
    keys = [f"{LINEAGE_PREFIX}{key}" for key in REPRODUCIBILITY_KEYS]
    return all(run_tags.get(key) and run_tags.get(key) == version_tags.get(key) for key in keys)
