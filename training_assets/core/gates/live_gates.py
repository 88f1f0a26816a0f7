"""The live gates: a day's quality of the served models, judged once enough labels arrived."""

from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.monitoring.prediction_log import CHALLENGER, PREVIOUS
from training_assets.core.monitoring.quality import ModelQuality, PairedComparison


def champion_within_tolerance(
    champion: ModelQuality | None, tolerance: float, min_rows: int
) -> GateOutcome:
    """The champion's live RMSE is at most its offline test RMSE plus `tolerance`, on at least
    `min_rows` labelled rows; with fewer, or without an offline figure, it is not judged."""
    if champion is None:
        return GateOutcome(True, {"judged": False, "why": "no champion predictions that day"})
    evidence = {
        "model_version": champion.model_version,
        "labelled_rows": champion.labelled_rows,
        "live_rmse": champion.rmse,
        "offline_rmse": champion.offline_rmse,
        "tolerance": tolerance,
        "min_rows": min_rows,
    }
    if champion.labelled_rows < min_rows or champion.rmse is None:
        why = f"{champion.labelled_rows} labelled rows, fewer than {min_rows}"
        return GateOutcome(True, {**evidence, "judged": False, "why": why})
    if champion.offline_rmse is None:
        why = f"version {champion.model_version} has no offline test RMSE"
        return GateOutcome(True, {**evidence, "judged": False, "why": why})
    excess = champion.rmse - champion.offline_rmse
    passed = excess <= tolerance
    return GateOutcome(
        passed,
        {**evidence, "judged": True, "excess": excess},
        ""
        if passed
        else f"champion version {champion.model_version}'s live RMSE {champion.rmse:.4f} on "
        f"{champion.labelled_rows} labelled rows is {excess:.4f} above its offline test RMSE "
        f"{champion.offline_rmse:.4f}, more than the tolerance {tolerance}",
    )


def challenger_not_worse(comparisons: list[PairedComparison], min_rows: int) -> GateOutcome:
    """No challenger judged on at least `min_rows` paired labelled rows has a gain interval
    entirely below zero (worse than the champion beyond the day's noise)."""
    comparisons = [c for c in comparisons if c.shadow_role == CHALLENGER]
    judged = [c for c in comparisons if c.paired_rows >= min_rows and c.gain_high is not None]
    evidence = _evidence(comparisons, judged, min_rows)
    worse = [c for c in judged if c.gain_high < 0]
    if not worse:
        return GateOutcome(True, evidence)
    shown = "; ".join(
        f"challenger version {c.challenger_version} against champion version "
        f"{c.champion_version} on {c.paired_rows} rows: RMSE {c.challenger_rmse:.4f} against "
        f"{c.champion_rmse:.4f}, gain 95% interval [{c.gain_low:.4f}, {c.gain_high:.4f}]"
        for c in worse
    )
    return GateOutcome(False, evidence, f"worse than the champion live: {shown}")


def champion_not_worse_than_previous(
    comparisons: list[PairedComparison],
    min_rows: int,
    rollback_automatic: bool,
    champion_now: int | None = None,
) -> GateOutcome:
    """The champion is not worse than the champion it replaced, scored in shadow on the same
    labelled requests: no such comparison on at least `min_rows` pairs has its gain interval
    entirely above zero (the previous version's RMSE lower beyond the day's noise). A failure
    names the version a rollback would restore, and whether one follows by itself: only for
    the comparison of `champion_now` (the champion when judged; None: not known), since a day
    on which the champion moved (a rollback at noon) also holds the comparison of a champion
    that is one no longer, which no rollback concerns now."""
    previous = [c for c in comparisons if c.shadow_role == PREVIOUS]
    judged = [c for c in previous if c.paired_rows >= min_rows and c.gain_low is not None]
    evidence = {
        **_evidence(previous, judged, min_rows),
        "rollback_on_live_regression": rollback_automatic,
    }
    worse = [c for c in judged if c.gain_low > 0]
    if not worse:
        return GateOutcome(True, evidence)
    current = [c for c in worse if champion_now is None or c.champion_version == champion_now]
    restore = current[-1].challenger_version if current else None
    if restore is None:
        then = f"version {champion_now} is @champion now, so no rollback follows from this day"
    elif rollback_automatic:
        then = f"live_rollback_sensor restores version {restore} (rollback_on_live_regression)"
    else:
        then = f"rollback_model_job would restore version {restore}"
    shown = "; ".join(
        f"champion version {c.champion_version} against version {c.challenger_version}, the "
        f"champion before it, on {c.paired_rows} rows: RMSE {c.champion_rmse:.4f} against "
        f"{c.challenger_rmse:.4f}, gain 95% interval [{c.gain_low:.4f}, {c.gain_high:.4f}]"
        for c in worse
    )
    return GateOutcome(
        False,
        {**evidence, **({"restores_version": restore} if restore is not None else {})},
        f"worse live than the champion it replaced: {shown}; {then}",
    )


def _evidence(
    comparisons: list[PairedComparison], judged: list[PairedComparison], min_rows: int
) -> dict:
    """The comparisons a gate looked at, how many it judged, and, for one, its figures flat
    (which the UI plots across days)."""
    evidence = {
        "comparisons": [_figures(c) for c in comparisons],
        "judged": len(judged),
        "min_rows": min_rows,
    }
    if len(comparisons) == 1:
        evidence |= {k: v for k, v in _figures(comparisons[0]).items() if v is not None}
    return evidence


def _figures(comparison: PairedComparison) -> dict:
    return {
        "champion_version": comparison.champion_version,
        "challenger_version": comparison.challenger_version,
        "paired_rows": comparison.paired_rows,
        "champion_rmse": comparison.champion_rmse,
        "challenger_rmse": comparison.challenger_rmse,
        "rmse_gain": comparison.rmse_gain,
        "gain_low": comparison.gain_low,
        "gain_high": comparison.gain_high,
    }


def served_drift_within_limit(
    models: list[ModelQuality], warn_psi: float, min_rows: int
) -> GateOutcome:
    """No feature served to a model on at least `min_rows` rows has a PSI above `warn_psi`
    against that model's training profile."""
    judged = [model for model in models if model.served_rows >= min_rows and model.served_psi]
    psi = {
        f"{model.role}.{name}": value
        for model in judged
        for name, value in model.served_psi.items()
    }
    drifted = {name: value for name, value in psi.items() if value > warn_psi}
    evidence = {"psi": psi, "warn_psi": warn_psi, "min_rows": min_rows, "judged": len(judged)}
    if not drifted:
        return GateOutcome(True, evidence)
    shown = ", ".join(f"{name} {value:.3f}" for name, value in sorted(drifted.items()))
    return GateOutcome(
        False,
        {**evidence, "drifted": sorted(drifted)},
        f"served features drift from the training profile beyond PSI {warn_psi}: {shown}",
    )
