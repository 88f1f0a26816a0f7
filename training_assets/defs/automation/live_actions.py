"""What live evidence sets off: a retrain when the champion degrades; under the `shadow`
promotion policy, the champion moved to a challenger that beat it live; and with
`rollback_on_live_regression`, the champion moved back to the one it replaced when that one,
still scored in shadow, beat it live.

Both read the days' `live_model_quality` materializations, where the live gates' verdicts and
figures are recorded beside the quality they judge.
"""

import json
from datetime import UTC, datetime

from dagster import (
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
)

from training_assets.core.monitoring.degradation import newest_degradation
from training_assets.core.monitoring.prediction_log import CHALLENGER, PREVIOUS
from training_assets.core.tracking import registry
from training_assets.core.tracking.lineage import LINEAGE_PREFIX
from training_assets.defs.instance_reads import retried
from training_assets.defs.live_records import (
    LIVE_MODEL_QUALITY,
    latest_by_day,
    metadata_values,
)
from training_assets.defs.resources.gates import GateThresholds
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.defs.tags import (
    CHALLENGER_VERSION_TAG,
    CHAMPION_VERSION_TAG,
    PREVIOUS_VERSION_TAG,
    TAG_PREFIX,
    TRIGGER_TAG,
)
from training_assets.defs.witness import REGISTRATION

CHAMPION_GATE = "gate.champion_live_rmse_within_tolerance"


def evaluate_live_retrain_sensor(
    context: SensorEvaluationContext, mlflow_store: MlflowStore, model_registry: ModelRegistry
):
    """Requests training_job when judged days fail champion_live_rmse_within_tolerance for the
    current champion: once per degradation (the newest run of failing days, keyed by its first
    day), with the evidence in the run's tags."""
    state = json.loads(context.cursor) if context.cursor else {}
    newest = retried(
        lambda: context.instance.fetch_materializations(LIVE_MODEL_QUALITY, limit=1).records,
        "live_model_quality's latest materialization",
    )
    if not newest or newest[0].storage_id == state.get("seen"):
        return SkipReason("no day's live quality was judged since the last check")
    champion = model_registry.champion(mlflow_store.configure_client())
    if champion is None:
        return SkipReason(f"{model_registry.champion_uri()} does not exist yet")
    version = int(champion.version)
    judged = _judged_days(context, version)
    days = newest_degradation({day: m.get(CHAMPION_GATE, True) for day, m in judged.items()})
    requested = state.get("requested", [])
    cursor = {"seen": newest[0].storage_id, "requested": requested}
    key = f"live-degraded-v{version}-from-{days[0]}" if days else None
    if key is None or key in requested:
        why = "already requested" if key else "no judged day failed"
        return SensorResult(
            skip_reason=f"champion version {version}: {why}", cursor=json.dumps(cursor)
        )
    # The newest failing day's figures stand for the degradation.
    figures = judged[days[-1]]
    evidence = {
        "live_rmse": figures.get("champion.rmse"),
        "offline_rmse": figures.get("champion.offline_rmse"),
        "labelled_rows": figures.get("champion.labelled_rows"),
    }
    context.log.info(f"Champion version {version} degraded live on {days}: {evidence}")
    cursor["requested"] = [*requested, key][-100:]
    request = RunRequest(
        run_key=key,
        tags={
            TRIGGER_TAG: "live_quality",
            CHAMPION_VERSION_TAG: str(version),
            f"{TAG_PREFIX}/degraded_since": days[0],
            f"{TAG_PREFIX}/degraded_on": days[-1],
            **{f"{TAG_PREFIX}/{name}": f"{value:.4f}" for name, value in evidence.items() if value},
        },
    )
    return SensorResult(run_requests=[request], cursor=json.dumps(cursor))


def _judged_days(context: SensorEvaluationContext, version: int) -> dict[str, dict]:
    """Each day's latest live quality that judged champion version `version`, by day."""
    return {
        day: metadata
        for day, metadata in latest_by_day(context.instance).items()
        if metadata.get("champion.version") == version and metadata.get("champion.judged")
    }


def evaluate_shadow_promotion_sensor(
    context: SensorEvaluationContext,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
    gates: GateThresholds,
):
    """Under the shadow policy, requests promote_model_job for the challenger once the latest
    `shadow_min_days` days that compared it with the champion on at least `min_labelled_rows`
    pairs each put its RMSE gain's 95% interval above zero. Only a challenger that a gated run
    of this instance registered under `promotion: shadow` is moved; the promotion checks its
    evidence again."""
    client = mlflow_store.configure_client()
    name = model_registry.model_name
    champion = model_registry.champion(client)
    challenger = registry.champion_version(client, name, model_registry.challenger_alias)
    if champion is None or challenger is None or challenger.version == champion.version:
        return SkipReason("no challenger awaits promotion beside a champion")
    policy = _registered_policy(context, name, challenger)
    if policy is None:
        return SkipReason(
            f"{name} version {challenger.version} is @{model_registry.challenger_alias} but no "
            "gated run of this instance registered it: it is never promoted on live evidence"
        )
    if not policy.startswith("shadow"):
        return SkipReason(f"version {challenger.version} was registered under {policy!r}")
    days = _compared_days(context, int(champion.version), int(challenger.version), gates)
    latest = _won_in_a_row(days, gates.shadow_min_days)
    if isinstance(latest, str):
        return SkipReason(
            f"version {challenger.version} has not beaten version {champion.version} {latest}"
        )
    reason = "beat @champion live in shadow: " + "; ".join(
        f"{d['day']} RMSE gain {d['gain']:.4f} [{d['gain_low']:.4f}, {d['gain_high']:.4f}] on "
        f"{d['rows']} labelled rows"
        for d in latest
    )
    return RunRequest(
        run_key=f"shadow-v{challenger.version}-over-v{champion.version}",
        run_config={
            "ops": {
                "champion_model": {
                    "config": {
                        "action": "promote",
                        "version": int(challenger.version),
                        "reason": reason,
                    }
                }
            }
        },
        tags={
            TRIGGER_TAG: "shadow",
            CHAMPION_VERSION_TAG: str(champion.version),
            CHALLENGER_VERSION_TAG: str(challenger.version),
            f"{TAG_PREFIX}/shadow_days": ",".join(d["day"] for d in latest),
            f"{TAG_PREFIX}/shadow_min_gain_low": f"{min(d['gain_low'] for d in latest):.4f}",
        },
    )


def evaluate_live_rollback_sensor(
    context: SensorEvaluationContext,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
    gates: GateThresholds,
):
    """When the champion did worse live than the champion it replaced, scored in shadow on the
    same requests, on each of the latest `shadow_min_days` days that compared them on at least
    `min_labelled_rows` pairs (the previous version's gain interval above zero): requests
    rollback_model_job once per regression with `rollback_on_live_regression`, else says which
    version rollback_model_job would restore. The rollback checks the target's evidence."""
    client = mlflow_store.configure_client()
    champion = model_registry.champion(client)
    if champion is None:
        return SkipReason(f"{model_registry.champion_uri()} does not exist yet")
    previous = registry.previous_champion(champion, model_registry.alias)
    if previous is None:
        return SkipReason(
            f"champion version {champion.version} replaced no champion, or came back by a "
            "rollback: there is none to judge it against"
        )
    # Only days whose shadow scores were scored since this champion's move: evidence from an
    # earlier time as champion (before a rollback and a new promotion) is not about this one.
    moved_at = champion.tags.get(f"{LINEAGE_PREFIX}{model_registry.alias}.moved_at", "")
    try:
        since = datetime.fromisoformat(moved_at) if moved_at else None
        if since is not None and since.tzinfo is None:  # written by hand without a zone
            since = since.replace(tzinfo=UTC)
    except ValueError:
        return SkipReason(
            f"champion version {champion.version}'s move record has no readable time "
            f"({moved_at!r}): no live evidence can be dated after it"
        )
    days = [
        day
        for day in _compared_days(context, int(champion.version), previous, gates, PREVIOUS)
        if since is None
        or (day["scored_from"] and datetime.fromisoformat(day["scored_from"]) >= since)
    ]
    latest = _won_in_a_row(days, gates.shadow_min_days)
    if isinstance(latest, str):
        return SkipReason(
            f"version {previous} has not beaten champion version {champion.version} {latest}"
        )
    evidence = "; ".join(
        f"{d['day']} RMSE {d['gain']:.4f} worse [{d['gain_low']:.4f}, {d['gain_high']:.4f}] on "
        f"{d['rows']} labelled rows"
        for d in latest
    )
    if not model_registry.rollback_on_live_regression:
        return SkipReason(
            f"champion version {champion.version} did worse live than version {previous}, the "
            f"champion before it ({evidence}): rollback_model_job would restore version "
            f"{previous}; rollback_on_live_regression is off"
        )
    return RunRequest(
        run_key=f"live-rollback-v{champion.version}-to-v{previous}-{moved_at}",
        run_config={
            "ops": {
                "champion_model": {
                    "config": {
                        "action": "rollback",
                        "from_version": int(champion.version),
                        "version": previous,
                        "reason": f"worse live than version {previous}: {evidence}",
                    }
                }
            }
        },
        tags={
            TRIGGER_TAG: "live_regression",
            CHAMPION_VERSION_TAG: str(champion.version),
            PREVIOUS_VERSION_TAG: str(previous),
            f"{TAG_PREFIX}/regression_days": ",".join(d["day"] for d in latest),
            f"{TAG_PREFIX}/regression_min_gain_low": f"{min(d['gain_low'] for d in latest):.4f}",
        },
    )


def _won_in_a_row(days: list[dict], needed: int) -> "list[dict] | str":
    """The latest `needed` compared days (newest first) when the shadow won each of them (its
    gain's interval above zero); else why not, shown with those days' intervals."""
    latest = days[:needed]
    if len(latest) == needed and all(day["gain_low"] > 0 for day in latest):
        return latest
    shown = ", ".join(f"{d['day']} [{d['gain_low']:.4f}, {d['gain_high']:.4f}]" for d in latest)
    return f"on {needed} judged days in a row (latest: {shown or 'none'})"


def _registered_policy(context: SensorEvaluationContext, name: str, version) -> str | None:
    """The promotion policy a gated run of this instance registered `version` under; None when
    none did (a version registered by hand, or an alias set on one)."""
    records = retried(
        lambda: context.instance.fetch_materializations(REGISTRATION, limit=1000).records,
        "registrations",
    )
    for record in records:
        metadata = metadata_values(record)
        if (
            metadata.get("model_name") == name
            and str(metadata.get("version")) == str(version.version)
            and metadata.get("mlflow_run_id") == version.run_id
            and metadata.get("model_uri") == version.source
        ):
            return str(metadata.get("promotion", ""))
    return None


def _compared_days(
    context: SensorEvaluationContext,
    champion: int,
    challenger: int,
    gates: GateThresholds,
    role: str = CHALLENGER,
) -> list[dict]:
    """The latest judgement of each day that compared the two on enough pairs, the second
    scored in shadow as `role`, newest day first."""
    days = latest_by_day(context.instance)
    compared = [
        {
            "day": day,
            "rows": c["paired_rows"],
            "gain": c["rmse_gain"],
            "gain_low": c["gain_low"],
            "gain_high": c["gain_high"],
            "scored_from": c.get("scored_from"),
        }
        for day, figures in days.items()
        for c in figures.get("comparisons", [])
        if c["champion_version"] == champion
        and c["challenger_version"] == challenger
        and c.get("shadow_role", CHALLENGER) == role
        and c["paired_rows"] >= gates.min_labelled_rows
        and c["gain_low"] is not None
    ]
    return sorted(compared, key=lambda d: d["day"], reverse=True)
