"""The MLflow model registry: the champion a new model is judged against, registering a gated
model as the challenger, and moving the champion alias (automatically, by a promotion, or back
by a rollback), each move recorded on the version and in the model's alias history."""

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from training_assets.core import faults, settings
from training_assets.core.tracking import evidence
from training_assets.core.tracking.lineage import LINEAGE_PREFIX, REPRODUCIBILITY_KEYS

DEFAULT_EXPERIMENT = "driver-trip-completion"
DEFAULT_MODEL_NAME = "sklearn-elastic-net-reg"
DEFAULT_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"

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
            # Set by another run between the two reads (two runs registering at once): the
            # alias is read again, as it is now.
            return client.get_model_version_by_alias(model_name, alias)
        raise


REGISTERED = "registered"
ALREADY_REGISTERED = "already_registered"
UNCHANGED = "unchanged"

# A version is tagged pending from register_model until its alias is set; a crash in between
# leaves it pending, and the next registration finishes or removes it. The tag is bookkeeping,
# not evidence: whether a version passed the gates is what `evidence` checks.
REGISTRATION_TAG = f"{LINEAGE_PREFIX}registration"
PENDING, COMPLETE = "pending", "complete"
# `expected_champion` when the caller did not read the champion before: no check.
UNCHECKED = object()


class ChampionMoved(RuntimeError):
    """The alias moved after this run's gates compared against the champion."""


# Asked of a version: None when the orchestrator recorded a gated run registering it, else
# what its records show instead. Tags and runs can be forged by anyone who can write to the
# registry; the orchestrator's event log cannot be written through MLflow.
Witness = Callable[[ModelVersion], str | None]


class PromotionRefused(ValueError):
    """A promotion, rollback or registration that would put an ungated or missing version in
    production, or a manual move without a reason."""


# The registered model's record of alias moves, newest last, as JSON. MLflow keeps tag values
# to a few thousand characters, so the oldest moves give way first.
ALIAS_HISTORY_TAG = f"{LINEAGE_PREFIX}alias_history"
_HISTORY_MAX_CHARS = 4500


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias: to which version, from which, by what, when and why."""

    alias: str
    version: int
    previous: int | None
    moved_by: str
    reason: str
    at: str


def move_alias(
    client: mlflow.MlflowClient,
    model_name: str,
    alias: str,
    version: int | str,
    moved_by: str,
    reason: str,
    record_previous: bool = True,
) -> AliasMove:
    """Point `alias` at `version` and record the move: on the version (tags
    `training_assets.<alias>.moved_by`, `.moved_at`, `.reason`, `.previous`) and in the model's
    alias history.

    Args:
        record_previous: Whether the version's `.previous` tag becomes the version the alias
            leaves. A rollback keeps the tag as it was, so that a second rollback goes further
            back instead of returning.
    """
    current = champion_version(client, model_name, alias)
    previous = None if current is None else int(current.version)
    move = AliasMove(
        alias=alias,
        version=int(version),
        previous=previous,
        moved_by=moved_by,
        reason=reason,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    record = {"moved_by": moved_by, "moved_at": move.at, "reason": reason}
    if record_previous:
        record["previous"] = "" if previous is None else str(previous)
    # The record first, the alias last: a move that fails half-way leaves the alias where it
    # was, never an alias whose record names another previous version.
    for key, value in record.items():
        client.set_model_version_tag(
            model_name, str(version), f"{LINEAGE_PREFIX}{alias}.{key}", value
        )
    history = [*alias_history(client, model_name), asdict(move)]
    text = json.dumps(history)
    while len(text) > _HISTORY_MAX_CHARS and len(history) > 1:
        history.pop(0)
        text = json.dumps(history)
    client.set_registered_model_tag(model_name, ALIAS_HISTORY_TAG, text)
    client.set_registered_model_alias(model_name, alias, str(version))
    return move


def alias_history(client: mlflow.MlflowClient, model_name: str) -> list[dict]:
    """The recorded alias moves of `model_name`, oldest first."""
    try:
        tags = client.get_registered_model(model_name).tags
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return []
        raise
    try:
        history = json.loads(tags.get(ALIAS_HISTORY_TAG, "[]"))
    except json.JSONDecodeError:  # edited by hand: the moves from now on are still recorded
        return []
    return history if isinstance(history, list) else []


def promote(
    client: mlflow.MlflowClient,
    model_name: str,
    champion_alias: str,
    challenger_alias: str,
    moved_by: str,
    reason: str,
    version: int | None = None,
    *,
    signing_key: bytes | None,
    witness: "Witness | None" = None,
) -> tuple[ModelVersion, AliasMove | None]:
    """Move `champion_alias` to `version`, by default the current challenger.

    Only the model of a gated training run can become champion (`evidence`): a version
    registered by hand passed no gate, whatever its tags say.

    Args:
        signing_key: The key of the versions' signatures; None checks no signature.
        witness: The orchestrator's own record of the registrations its gated runs made
            (`Witness`), which the registry's users cannot write.

    Returns:
        The champion afterwards, and the move (None when it was the champion already).

    Raises:
        PromotionRefused: naming the version and the evidence it lacks, or an empty reason.
    """
    check_model_name(model_name)
    _check_reason(reason, "promotion")
    if version is None:
        target = champion_version(client, model_name, challenger_alias)
        if target is None:
            raise PromotionRefused(
                f"{model_name} has no @{challenger_alias}: no gated model awaits promotion. "
                "Train one, or name the version to promote."
            )
        version = int(target.version)
    target = _gated_version(client, model_name, version, champion_alias, signing_key, witness)
    current = champion_version(client, model_name, champion_alias)
    if current is not None and current.version == target.version:
        return current, None
    move = move_alias(client, model_name, champion_alias, target.version, moved_by, reason)
    return client.get_model_version(model_name, target.version), move


# How a rollback's move record begins: a version that came back so is not judged against the
# one it replaced before (live_rollback_sensor), which would roll back further and further.
ROLLBACK_REASON = "rollback from version"


def registered_version(client: mlflow.MlflowClient, model_uri: str) -> tuple[str, int] | None:
    """The registered model name and version that a `models:/<name>@<alias>` or
    `models:/<name>/<version>` URI names now (an alias read once, so that the caller can score
    with the version it reads and log that one); None for any other URI.

    Raises:
        MlflowException: when the alias or the model does not exist.
    """
    if not model_uri.startswith("models:/"):
        return None
    path = model_uri.removeprefix("models:/")
    if "@" in path:
        name, alias = path.split("@", 1)
        return name, int(client.get_model_version_by_alias(name, alias).version)
    name, _, version = path.rpartition("/")
    return (name, int(version)) if name and version.isdigit() else None


def previous_champion(version: ModelVersion, alias: str) -> int | None:
    """The version that `version` replaced as @`alias`, from its move record; None when it
    replaced none, or when it came back by a rollback."""
    previous = version.tags.get(f"{LINEAGE_PREFIX}{alias}.previous", "")
    came_back = version.tags.get(f"{LINEAGE_PREFIX}{alias}.reason", "").startswith(ROLLBACK_REASON)
    if not previous.isdigit() or came_back or int(previous) == int(version.version):
        return None
    return int(previous)


def rollback(
    client: mlflow.MlflowClient,
    model_name: str,
    champion_alias: str,
    moved_by: str,
    reason: str,
    *,
    signing_key: bytes | None,
    witness: "Witness | None" = None,
    from_version: int | None = None,
    to_version: int | None = None,
) -> tuple[ModelVersion, AliasMove]:
    """Move `champion_alias` back to the champion before the current one (the current
    version's `.previous` tag); a second rollback goes one further back. A version promoted
    again records the champion it replaced as its `.previous`, so a rollback after that
    returns there.

    Args:
        from_version, to_version: When given, the champion it rolls back and the version it
            restores, as whoever asked for it saw them: a rollback decided on evidence about
            those two is refused once the champion or its record has moved on, instead of
            moving another version.

    Raises:
        PromotionRefused: when there is no champion, none before it, the one before it lacks
            the evidence of a gated run (`evidence`), the champion or the version before it
            is not the one named, or the reason is empty.
    """
    check_model_name(model_name)
    _check_reason(reason, "rollback")
    current = champion_version(client, model_name, champion_alias)
    if current is None:
        raise PromotionRefused(f"{model_name} has no @{champion_alias} to roll back")
    if from_version is not None and int(current.version) != from_version:
        raise PromotionRefused(
            f"{model_name}@{champion_alias} is version {current.version} now, not version "
            f"{from_version}, which this rollback was asked for: nothing moved"
        )
    previous = current.tags.get(f"{LINEAGE_PREFIX}{champion_alias}.previous", "")
    if not previous:
        raise PromotionRefused(
            f"{model_name}@{champion_alias} is version {current.version}, which had no "
            f"@{champion_alias} before it: there is nothing to roll back to"
        )
    if to_version is not None and int(previous) != to_version:
        raise PromotionRefused(
            f"{model_name}@{champion_alias} version {current.version} replaced version "
            f"{previous}, not version {to_version}, which this rollback was asked to restore: "
            "nothing moved"
        )
    target = _gated_version(client, model_name, int(previous), champion_alias, signing_key, witness)
    move = move_alias(
        client,
        model_name,
        champion_alias,
        target.version,
        moved_by,
        f"{ROLLBACK_REASON} {current.version}: {reason}",
        record_previous=False,
    )
    return client.get_model_version(model_name, target.version), move


def _check_reason(reason: str, move: str) -> None:
    """A move by hand says why: the reason is what the version and the alias history keep."""
    if not reason.strip():
        raise PromotionRefused(
            f"the {move} has no reason (field `reason` is {reason!r}): say in a sentence why "
            "the champion moves; it is recorded on the version and in the alias history"
        )


def _gated_version(
    client: mlflow.MlflowClient,
    model_name: str,
    version: int,
    alias: str,
    signing_key: bytes | None,
    witness: "Witness | None" = None,
) -> ModelVersion:
    """Version `version`, when it carries the evidence of a gated training run.

    Raises:
        PromotionRefused: when it does not exist, or lacks evidence (naming each piece).
    """
    try:
        target = client.get_model_version(model_name, str(version))
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise PromotionRefused(f"{model_name} has no version {version}") from None
        raise
    _require_evidence(client, target, alias, signing_key, witness)
    return target


def _require_evidence(
    client: mlflow.MlflowClient,
    version: ModelVersion,
    alias: str,
    signing_key: bytes | None,
    witness: "Witness | None" = None,
) -> None:
    failures = evidence.missing_evidence(client, version, signing_key)
    unwitnessed = witness(version) if witness is not None else None
    if unwitnessed:
        failures = [*failures, unwitnessed]
    if failures:
        raise PromotionRefused(
            f"{version.name} version {version.version} was not registered by a gated training "
            f"run, so it cannot become @{alias}: " + "; ".join(failures)
        )


def register_with_alias(
    client: mlflow.MlflowClient,
    model_name: str,
    alias: str,
    model_uri: str,
    run_id: str,
    expected_champion: "int | None | object" = UNCHECKED,
    challenger_alias: str | None = None,
    move_champion: bool = True,
    moved_by: str = "a training run",
    reason: str = "passed every gate",
    *,
    signing_key: bytes | None,
) -> tuple[ModelVersion, str]:
    """Register the logged model `model_uri` of `run_id`, move `challenger_alias` to it and,
    when `move_champion`, `alias` (the champion) too; each move is recorded (`move_alias`).

    The version carries the run's lineage tags, so the alias leads to data and code. A model
    that is already a version (a re-executed run) is not registered twice, and a model trained
    on the same data, code and config as the current `alias` or `challenger_alias` version is
    not registered at all: it would be the same model under a new number. Versions that a
    crashed registration left pending are finished (an alias reached them) or removed (their
    run is over) first.

    Only a run whose gates passed reaches here: its verdict is recorded on the run when its
    report has not recorded it yet, and the version is signed with `signing_key` (when there
    is one) once it is checked to be the run's own model, before any alias moves to it.

    Args:
        expected_champion: The champion version the gates compared against (None: there was
            none). When the alias points elsewhere now, another run registered meanwhile.

    Returns:
        The version registered (or found registered), and what happened: REGISTERED,
        ALREADY_REGISTERED or UNCHANGED (nothing registered: the champion's or the
        challenger's version, and the aliases stay).

    Raises:
        ChampionMoved: naming the version compared against and the one found.
        PromotionRefused: when the run's report recorded another verdict, or the version
            lacks the evidence of a gated run (`evidence`); no alias moves.
    """
    check_model_name(model_name)
    run_tags = client.get_run(run_id).data.tags
    finish_or_remove_pending(client, model_name, alias, keep_run=run_id, also=challenger_alias)
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
    challenger = (
        champion_version(client, model_name, challenger_alias) if challenger_alias else None
    )
    for standing in (current, challenger):
        if standing is not None and standing.run_id != run_id:
            if _same_lineage(run_tags, standing.tags):
                return standing, UNCHANGED
    _record_passed(client, run_id, run_tags)
    version, outcome = _register_once(client, model_name, model_uri, run_id, run_tags)
    _require_evidence(client, version, alias, None)
    if signing_key is not None:
        evidence.sign(client, version, signing_key)
    moves = [challenger_alias] if challenger_alias else []
    if move_champion:
        moves.append(alias)
    for name in moves:
        standing = champion_version(client, model_name, name)
        if standing is None or standing.version != version.version:
            move_alias(client, model_name, name, version.version, moved_by, reason)
    client.set_model_version_tag(model_name, version.version, REGISTRATION_TAG, COMPLETE)
    return version, outcome


def _register_once(
    client: mlflow.MlflowClient,
    model_name: str,
    model_uri: str,
    run_id: str,
    run_tags: dict[str, str],
) -> tuple[ModelVersion, str]:
    """The version of the run's model `model_uri`, registered now (tagged pending, with the
    run's tags) unless it was already; and REGISTERED or ALREADY_REGISTERED."""
    # Only the run's own model counts as registered already: a version that merely names the
    # run (registered by hand from another source) is not it.
    existing = [
        version
        for version in client.search_model_versions(f"name='{model_name}'")
        if version.source == model_uri and version.run_id == run_id
    ]
    if existing:
        version, outcome = existing[0], ALREADY_REGISTERED
    else:
        tags = {key: value for key, value in run_tags.items() if not key.startswith("mlflow.")}
        tags[REGISTRATION_TAG] = PENDING
        version, outcome = register_model(client, model_uri, model_name, tags), REGISTERED
        faults.point(faults.AFTER_REGISTER)
    # As the registry holds it now, with every tag, for the evidence check and the signature.
    return client.get_model_version(model_name, version.version), outcome


def register_model(
    client: mlflow.MlflowClient, model_uri: str, model_name: str, tags: dict[str, str]
) -> ModelVersion:
    """A new version of `model_name` (created if missing) from `model_uri` with `tags`, as
    `mlflow.register_model` makes it but on `client`: the source is `model_uri` itself, and a
    logged model's version names its model id, from which the registry takes its run."""
    try:
        client.create_registered_model(model_name)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    model_id = model_uri.removeprefix("models:/")
    logged = model_uri.startswith("models:/") and model_id and not set("/@") & set(model_id)
    with _process_tracking_uri(client.tracking_uri):
        return client.create_model_version(
            model_name, model_uri, tags=tags, model_id=model_id if logged else None
        )


@contextmanager
def _process_tracking_uri(uri: str) -> Iterator[None]:
    """mlflow's process-wide tracking URI made `uri` for the one call that needs it, then put
    back exactly as it was.

    MLflow 3.17's SQL model registry store (an embedded registry: sqlite, PostgreSQL) looks a
    `models:/<model id>` source up with `MlflowClient()`, on the process-wide tracking URI,
    not the client's (`SqlAlchemyStore.create_model_version`, which says so in a TODO); with
    none set it would open ./mlflow.db of whatever directory the process runs in. A server's
    registry does that lookup on the server. The process-wide URI is $MLFLOW_TRACKING_URI
    unless code set one with `mlflow.set_tracking_uri`, which wins (and writes the variable
    too): the variable is set for the call, and a URI set in code is replaced for it as well.
    Steps of one process run one at a time, so nothing else reads the URI meanwhile.
    """
    variable = settings.mlflow_tracking_uri()
    settings.put(settings.MLFLOW_TRACKING_URI_ENV, uri)
    in_code = mlflow.get_tracking_uri()
    if in_code != uri:
        mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        if in_code != uri:
            mlflow.set_tracking_uri(in_code)
        settings.put(settings.MLFLOW_TRACKING_URI_ENV, variable)


def _record_passed(client: mlflow.MlflowClient, run_id: str, run_tags: dict[str, str]) -> None:
    """Record on the run that its gates passed, unless its report did already.

    Raises:
        PromotionRefused: when the report recorded another verdict: the report and the gates
            disagree, or registration was launched without the gates (a selection of assets
            that leaves them out), and neither may register the model.
    """
    verdict = run_tags.get(evidence.VERDICT_TAG)
    if verdict is None:
        client.set_tag(run_id, evidence.VERDICT_TAG, evidence.PASSED)
    elif verdict != evidence.PASSED:
        raise PromotionRefused(
            f"run {run_id} is tagged {evidence.VERDICT_TAG}={verdict!r} by its model report, "
            f"expected {evidence.PASSED!r}: a model whose gates did not all pass is not "
            "registered"
        )


def finish_or_remove_pending(
    client: mlflow.MlflowClient,
    model_name: str,
    alias: str,
    keep_run: str | None = None,
    also: str | None = None,
) -> dict[str, list[int]]:
    """Versions left pending by a registration that crashed: finished when the alias (or the
    alias `also`, the challenger) reached them, removed when their MLflow run is over; one
    whose run is still running (a registration in progress) and those of `keep_run` are left
    alone.

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
    # Searches do not return aliases on every store; ask for the aliases themselves.
    reached = {
        standing.version
        for name in (alias, also)
        if name and versions
        for standing in [champion_version(client, model_name, name)]
        if standing is not None
    }
    for version in versions:
        if version.run_id == keep_run:
            continue
        if version.version in reached:
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
