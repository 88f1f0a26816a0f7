"""Gate outcomes as Dagster check specs and results."""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue

from training_assets.core.gates.catalog import GATES_BY_NAME, Gate
from training_assets.core.gates.outcome import GateOutcome


def check_spec(gate: Gate, **kwargs) -> AssetCheckSpec:
    """The check spec of `gate`; a non-blocking gate's check never holds back downstream."""
    return AssetCheckSpec(
        gate.name,
        asset=gate.asset,
        blocking=gate.blocking,
        description=gate.description,
        **kwargs,
    )


def check_result(name: str, outcome: GateOutcome, extra: dict | None = None) -> AssetCheckResult:
    """The check result of gate `name`, with the outcome's evidence as metadata.

    A failure is an ERROR, which blocks what is downstream, unless the gate or this outcome
    only warns.
    """
    gate = GATES_BY_NAME[name]
    metadata = {
        key: MetadataValue.json(value) if isinstance(value, dict | list) else value
        for key, value in outcome.evidence.items()
    }
    if outcome.description:
        metadata["reason"] = MetadataValue.text(outcome.description)
    metadata.update(extra or {})
    warns = not gate.blocking or outcome.warn_only
    return AssetCheckResult(
        asset_key=gate.asset,
        check_name=gate.name,
        passed=outcome.passed,
        severity=AssetCheckSeverity.WARN if warns else AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
