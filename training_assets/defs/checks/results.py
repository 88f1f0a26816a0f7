"""Gate outcomes as Dagster check specs and results."""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue

from training_assets.core.gates.catalog import GATES_BY_NAME, Gate, is_blocking
from training_assets.core.gates.outcome import GateOutcome
from training_assets.defs.resources.gates import code_location_limits

# Evidence keys that hold a configured limit rather than a measured figure.
LIMIT_KEYS = frozenset(
    {
        "ceiling",
        "tolerance",
        "min_rows",
        "min_improvement",
        "max_null_rate",
        "warn_psi",
        "block_psi",
        "warn_label_shift",
        "block_label_shift",
        "budget_ms",
        "expected_values",
    }
)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_spec(gate: Gate, **kwargs) -> AssetCheckSpec:
    """The check spec of `gate`; a non-blocking gate's check never holds back downstream. A
    switched gate blocks as the code location's environment says (defs/resources/gates.py)."""
    return AssetCheckSpec(
        gate.name,
        asset=gate.asset,
        blocking=is_blocking(gate.name, code_location_limits()),
        description=gate.description,
        **kwargs,
    )


def check_result(name: str, outcome: GateOutcome, extra: dict | None = None) -> AssetCheckResult:
    """The check result of gate `name`, with the outcome's evidence as metadata.

    A failure is an ERROR, which blocks what is downstream, unless the gate's check is declared
    non-blocking (`check_spec`) or this outcome only warns.
    """
    gate = GATES_BY_NAME[name]
    metadata = {}
    for key, value in outcome.evidence.items():
        if key in LIMIT_KEYS:
            # A configured limit is the same on every run: text, so that the UI's plots are
            # spent on the figures that move.
            metadata[key] = MetadataValue.text(str(value))
        elif isinstance(value, dict | list):
            metadata[key] = MetadataValue.json(value)
            if isinstance(value, dict) and value and all(_is_number(v) for v in value.values()):
                # Per-feature figures (PSI, null rates) one by one, which the UI plots.
                for part, number in value.items():
                    metadata[f"{key}.{part}"] = MetadataValue.float(float(number))
        else:
            metadata[key] = value
    if outcome.description:
        metadata["reason"] = MetadataValue.text(outcome.description)
    metadata.update(extra or {})
    warns = not is_blocking(name, code_location_limits()) or outcome.warn_only
    return AssetCheckResult(
        asset_key=gate.asset,
        check_name=gate.name,
        passed=outcome.passed,
        severity=AssetCheckSeverity.WARN if warns else AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
