"""The drift gate: feature PSI and label-rate shift of new training data against the
champion's training data, judged against warning and blocking limits."""

from dataclasses import replace

import mlflow

from training_assets.core.data.table_query import quote
from training_assets.core.gates.champion_gates import NO_CHAMPION
from training_assets.core.gates.data_gates import queried
from training_assets.core.gates.limits import GateLimits
from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.ml.drift import population_stability
from training_assets.core.schema import LABEL
from training_assets.core.tracking.lineage import REFERENCE_PROFILE_ARTIFACT
from training_assets.core.tracking.profiles import reference_profile


def judge_drift(
    client: mlflow.MlflowClient,
    table,
    features: tuple[str, ...],
    champion,
    limits: GateLimits,
) -> GateOutcome:
    """The drift gate's outcome for the training table against `champion`.

    Args:
        client: The MLflow client the champion's training-data profile is read through.
        table: The training table: a TableQuery on its file, a frame or an Arrow table.
        features: The model inputs in the table.
        champion: The champion's MLflow model version, or None when there is none yet.
    """
    if champion is None:
        return GateOutcome(True, {"note": NO_CHAMPION})
    # Stores report a missing or unreadable artifact with different exception types.
    try:
        reference = reference_profile(client, champion.run_id)
    except Exception as error:
        return GateOutcome(
            False,
            {
                "champion_version": int(champion.version),
                "expected": f"runs:/{champion.run_id}/{REFERENCE_PROFILE_ARTIFACT}",
                "found": f"{type(error).__name__}: {error}"[:2000],
            },
            "the champion's training-data profile cannot be read, so drift cannot be judged; "
            "restore its artifacts or move the champion alias",
            # Drift that cannot be judged holds back no more than drift would.
            warn_only=not limits.drift_blocks,
        )
    # Features added to or dropped from the service since the champion have no counterpart
    # to drift from; they are listed, and the shared ones are compared.
    profiled = reference["features"]
    shared = [name for name in profiled if name in features]
    with queried(table) as query:
        psi = population_stability({name: profiled[name] for name in shared}, query)
        (label_rate,) = query.one(f"SELECT avg(CAST({quote(LABEL)} AS DOUBLE)) FROM {{t}}")
    label_shift = float(label_rate or 0.0) - reference["label_rate"]
    outcome, level = drift_against_reference(
        psi,
        label_shift,
        limits.drift_warn_psi,
        limits.drift_block_psi,
        limits.label_shift_warn,
        limits.label_shift_block,
    )
    evidence = {
        **outcome.evidence,
        "champion_version": int(champion.version),
        "level": level,
        "features_new_since_champion": [name for name in features if name not in profiled],
        "champion_features_dropped": [name for name in profiled if name not in shared],
    }
    blocks = level == "block" and limits.drift_blocks
    return replace(outcome, evidence=evidence, warn_only=not outcome.passed and not blocks)


def drift_against_reference(
    psi: dict[str, float],
    label_rate_shift: float,
    warn_psi: float,
    block_psi: float,
    warn_label_shift: float,
    block_label_shift: float,
) -> tuple[GateOutcome, str]:
    """Classify feature PSIs and the label-rate shift against warning and blocking limits.

    Returns:
        The outcome and its level: "ok", "warn" or "block".
    """
    worst_psi = max(psi.values(), default=0.0)
    shift = abs(label_rate_shift)
    if worst_psi > block_psi or shift > block_label_shift:
        level = "block"
    elif worst_psi > warn_psi or shift > warn_label_shift:
        level = "warn"
    else:
        level = "ok"
    evidence = {
        "psi": psi,
        "label_rate_shift": label_rate_shift,
        "warn_psi": warn_psi,
        "block_psi": block_psi,
        "warn_label_shift": warn_label_shift,
        "block_label_shift": block_label_shift,
    }
    description = (
        f"drift at {level} level: max PSI {worst_psi:.3f}, label rate shift {shift:.3f}"
        if level != "ok"
        else ""
    )
    return GateOutcome(level == "ok", evidence, description, warn_only=level == "warn"), level
