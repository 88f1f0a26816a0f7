"""Blocking gates: data gates on the training table, model gates on the evaluation."""

from dagster import AssetCheckSeverity, MetadataValue

from training_assets.validation import GateOutcome


def check_result_kwargs(outcome: GateOutcome, warn_only: bool = False) -> dict:
    """Keyword arguments of an AssetCheckResult that carry the outcome's evidence.

    A failed gate is an ERROR, which blocks what is downstream, unless `warn_only`.
    """
    metadata = {
        key: MetadataValue.json(value) if isinstance(value, dict | list) else value
        for key, value in outcome.evidence.items()
    }
    if outcome.description:
        metadata["reason"] = MetadataValue.text(outcome.description)
    return {
        "passed": outcome.passed,
        "severity": AssetCheckSeverity.WARN if warn_only else AssetCheckSeverity.ERROR,
        "metadata": metadata,
    }
