"""The registered model version that passed every gate, and the champion in production."""

from typing import Literal

from dagster import (
    AssetExecutionContext,
    Config,
    DataVersion,
    Failure,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from training_assets.core.records import (
    ChampionModel,
    Evaluation,
    RegisteredModelVersion,
    TrainedModel,
)
from training_assets.core.tracking import registry
from training_assets.core.tracking.registry import (
    ALREADY_REGISTERED,
    UNCHANGED,
    ChampionMoved,
    PromotionRefused,
    register_with_alias,
)
from training_assets.defs import links
from training_assets.defs.automation.jobs import promote_model_job, rollback_model_job
from training_assets.defs.resources.mlflow import MlflowStore, MlflowTracking, ModelRegistry
from training_assets.defs.tags import OWNERS, what_ran
from training_assets.defs.witness import registration_witness


def _mover(context: AssetExecutionContext) -> str:
    """Who moved an alias: what ran (the job, or the assets of a launch from the asset graph)
    and the run, which the Dagster UI finds by its id."""
    return f"{what_ran(context.job_name, context.run.asset_selection)} run {context.run.run_id}"


def _checked_signing_key(model_registry: ModelRegistry) -> bytes | None:
    """The signing key, once the aliases and the key are known to be usable.

    Raises:
        Failure: naming the setting that is wrong, before the registry is touched.
    """
    try:
        model_registry.check_aliases()
        return model_registry.signing_key()
    except ValueError as error:
        raise Failure(description=str(error)) from None


@asset(
    owners=OWNERS,
    group_name="training",
    io_manager_key="json_io_manager",
    kinds={"mlflow"},
    code_version="3",
)
def registered_model_version(
    context: AssetExecutionContext,
    trained_model: TrainedModel,
    evaluation: Evaluation,
    mlflow_tracking: MlflowTracking,
    model_registry: ModelRegistry,
) -> RegisteredModelVersion:
    """The gated model registered in MLflow as the challenger; with automatic promotion (the
    default) the champion alias moves to it as well."""
    name, model_uri = model_registry.model_name, trained_model.model_uri
    # Under `shadow`, a first gated version with no champion to be scored beside would wait
    # for live evidence that can never come: it becomes the champion, as under `automatic`.
    first_under_shadow = (
        model_registry.promotion == "shadow" and evaluation.champion_version is None
    )
    automatic = model_registry.promotion == "automatic" or first_under_shadow
    signing_key = _checked_signing_key(model_registry)
    try:
        version, outcome = register_with_alias(
            mlflow_tracking.client,
            name,
            model_registry.alias,
            model_uri,
            trained_model.run_id,
            expected_champion=evaluation.champion_version,
            challenger_alias=model_registry.challenger_alias,
            move_champion=automatic,
            moved_by=_mover(context),
            reason=f"passed every gate (RMSE {evaluation.rmse:.4f})"
            + (
                "; the first version, with no champion to judge it in shadow"
                if first_under_shadow
                else ""
            ),
            signing_key=signing_key,
        )
    except (ChampionMoved, PromotionRefused) as refused:
        raise Failure(
            description=str(refused),
            metadata={
                "expected_champion": str(evaluation.champion_version),
                "model_uri": model_uri,
            },
        ) from None
    _log_outcome(context, model_registry, version.version, model_uri, outcome, automatic)
    record = RegisteredModelVersion(
        name=name,
        version=int(version.version),
        alias=model_registry.alias,
        challenger_alias=model_registry.challenger_alias,
        promotion=model_registry.promotion,
        model_uri=version.source,
        run_id=version.run_id,
        trained_run_id=trained_model.run_id,
        rmse=evaluation.rmse,
        outcome=outcome,
    )
    context.add_output_metadata(
        {
            "model_name": name,
            "version": record.version,
            "outcome": outcome,
            "promotion": (
                model_registry.promotion
                if automatic or outcome == UNCHANGED
                else AWAITING[model_registry.promotion]
            ),
            "alias_uri": model_registry.champion_uri(),
            "model_uri": version.source,
            "mlflow_run_id": version.run_id,
            "mlflow_version": links.mlflow_version(
                mlflow_tracking.store.ui_base_url(), name, version.version
            ),
        }
    )
    return record


def _log_outcome(
    context: AssetExecutionContext,
    model_registry: ModelRegistry,
    version: str,
    model_uri: str,
    outcome: str,
    moved_champion: bool,
) -> None:
    """Say in the run's log what the registration did, when it registered nothing new or
    left the version awaiting promotion."""
    if outcome == ALREADY_REGISTERED:
        context.log.info(f"{model_uri} is already version {version}; not registering again")
    elif outcome == UNCHANGED:
        context.log.info(
            f"Same data, code and config as version {version}: nothing new registered; "
            "the aliases stay"
        )
    elif not moved_champion:
        context.log.info(
            f"Version {version} is @{model_registry.challenger_alias}, awaiting "
            f"promotion: read its report, then launch promote_model_job"
        )


# What a version registered without moving the champion waits for, by promotion policy; the
# shadow promotion sensor moves only versions registered under `shadow`.
AWAITING = {
    "manual": "manual: awaiting promote_model_job",
    "shadow": "shadow: awaiting live evidence (shadow_promotion_sensor)",
}


class ChampionConfig(Config):
    """What to do with the champion alias."""

    action: Literal["report", "promote", "rollback"] = Field(
        default="report",
        description=(
            "report: record the champion as it is (what training_job does). promote: move it "
            "to `version`, by default the challenger (promote_model_job only). rollback: move "
            "it back to the champion before the current one (rollback_model_job only)."
        ),
    )
    version: int | None = Field(
        default=None,
        description=(
            "promote: the version to promote (default: the current challenger). rollback: the "
            "version it must restore, refused when the champion's record names another "
            "(default: whichever that is)."
        ),
    )
    from_version: int | None = Field(
        default=None,
        description=(
            "rollback: the champion it rolls back, refused when the champion is another "
            "version by the time it runs (default: whichever it is)."
        ),
    )
    reason: str = Field(
        default="",
        description=(
            "Why, in a sentence: recorded on the version and in the alias history. Required "
            "to promote or roll back."
        ),
    )


# Each job that moves the champion does its one thing; every other job only reports it.
_ACTION_OF_JOB = {promote_model_job.name: "promote", rollback_model_job.name: "rollback"}


def _check_action(job_name: str, config: ChampionConfig) -> None:
    """The action is the job's own, and a move says why; refused before anything moves.

    Raises:
        Failure: naming the config field, expected against found.
    """
    expected = _ACTION_OF_JOB.get(job_name, "report")
    if config.action != expected:
        movers = {action: job for job, action in _ACTION_OF_JOB.items()}
        does = "only reports @champion" if expected == "report" else f"only does {expected!r}"
        where = movers.get(config.action, "a materialization of champion_model")
        raise Failure(
            description=(
                f"{job_name} {does}, but its config (ops.champion_model.config.action) asks "
                f"for {config.action!r}: launch {where} for that. Nothing moved."
            )
        )
    if config.from_version is not None and config.action != "rollback":
        raise Failure(
            description=(
                f"ops.champion_model.config.from_version is {config.from_version}, which only "
                f"a rollback checks, but the action is {config.action!r}: leave it out. "
                "Nothing moved."
            )
        )
    if expected != "report" and not config.reason.strip():
        raise Failure(
            description=(
                f"{job_name} needs a reason (ops.champion_model.config.reason is "
                f"{config.reason!r}): say in a sentence why @champion moves; it is recorded on "
                "the version and in the alias history. Nothing moved."
            )
        )


@asset(
    owners=OWNERS,
    group_name="training",
    deps=[registered_model_version],
    io_manager_key="json_io_manager",
    kinds={"mlflow"},
    code_version="1",
)
def champion_model(
    context: AssetExecutionContext,
    config: ChampionConfig,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
) -> Output[ChampionModel]:
    """The version in production (@champion), with how it got there. training_job records it
    after registration; promote_model_job and rollback_model_job move it. Its data version is
    the champion's version, so what scores with the champion is stale when it changes."""
    _check_action(context.job_name, config)
    name, alias = model_registry.model_name, model_registry.alias
    signing_key = _checked_signing_key(model_registry)
    client = mlflow_store.configure_client()
    champion, move = _move_or_read(context, config, client, model_registry, signing_key)
    challenger = registry.champion_version(client, name, model_registry.challenger_alias)
    waiting = None if challenger is None else int(challenger.version)
    if champion is None:
        # Manual promotion before the first promotion: nothing is in production yet.
        context.log.info(f"{name} has no @{alias} yet; @challenger is version {waiting}")
        return Output(
            ChampionModel(name=name, alias=alias, version=None, challenger_version=waiting),
            data_version=DataVersion(f"{name}/none"),
            metadata={
                "version": MetadataValue.text("none yet"),
                "challenger_version": waiting or 0,
            },
        )
    record = _champion_record(champion, move, name, alias, waiting)
    if move is not None:
        context.log.info(f"{name}@{alias}: version {move.previous} -> {move.version}")
    history = registry.alias_history(client, name)[-10:]
    return Output(
        record,
        data_version=DataVersion(f"{name}/{champion.version}"),
        metadata={
            "version": record.version,
            "challenger_version": record.challenger_version or 0,
            "mlflow_version": links.mlflow_version(
                mlflow_store.ui_base_url(), name, champion.version
            ),
            "moved_by": record.moved_by,
            "moved_at": record.moved_at,
            "reason": record.reason,
            "alias_history": MetadataValue.md(_history_table(history)),
        },
    )


def _champion_record(
    champion, move, name: str, alias: str, challenger_version: int | None
) -> ChampionModel:
    """The champion version `champion` as recorded: by `move` when this run moved the alias,
    else by the tags its last move left on the version."""
    prefix = f"{registry.LINEAGE_PREFIX}{alias}."
    moved = {
        field: champion.tags.get(f"{prefix}{field}", "")
        for field in ("moved_by", "moved_at", "reason", "previous")
    }
    if move is not None:
        moved.update(moved_by=move.moved_by, moved_at=move.at, reason=move.reason)
    return ChampionModel(
        name=name,
        alias=alias,
        version=int(champion.version),
        challenger_version=challenger_version,
        model_uri=f"models:/{name}/{champion.version}",
        run_id=champion.run_id,
        moved_now=move is not None,
        **moved,
    )


def _move_or_read(
    context: AssetExecutionContext,
    config: ChampionConfig,
    client,
    model_registry: ModelRegistry,
    signing_key: bytes | None,
):
    """The champion after the config's action, and the move (None when nothing moved)."""
    name, alias = model_registry.model_name, model_registry.alias
    try:
        if config.action == "promote":
            return registry.promote(
                client,
                name,
                alias,
                model_registry.challenger_alias,
                moved_by=_mover(context),
                reason=config.reason,
                version=config.version,
                signing_key=signing_key,
                witness=registration_witness(context.instance, name),
            )
        if config.action == "rollback":
            return registry.rollback(
                client,
                name,
                alias,
                moved_by=_mover(context),
                reason=config.reason,
                signing_key=signing_key,
                witness=registration_witness(context.instance, name),
                from_version=config.from_version,
                to_version=config.version,
            )
    except PromotionRefused as refused:
        raise Failure(description=str(refused)) from None
    return model_registry.champion(client), None


def _history_table(history: list[dict]) -> str:
    rows = [
        f"| {m['at']} | @{m['alias']} | {m['previous'] or '-'} → {m['version']} "
        f"| {m['moved_by']} | {m['reason']} |"
        for m in reversed(history)
    ]
    return "\n".join(["| when | alias | version | by | why |", "|---|---|---|---|---|", *rows])
