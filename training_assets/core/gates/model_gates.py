"""Gates on a model's test-split scores: error ceilings and a margin over the mean predictor."""

from training_assets.core.gates.outcome import GateOutcome


def metric_within_ceiling(metrics: dict[str, float], name: str, ceiling: float) -> GateOutcome:
    """`metrics[name]` is at or below `ceiling`."""
    value = metrics[name]
    return GateOutcome(
        passed=value <= ceiling,
        evidence={name: value, "ceiling": ceiling},
        description=f"{name} {value:.4f} above ceiling {ceiling}" if value > ceiling else "",
    )


def beats_mean_baseline(metrics: dict[str, float], min_improvement: float) -> GateOutcome:
    """The model's RMSE is at least `min_improvement` (a fraction) below the mean predictor's."""
    rmse, baseline = metrics["rmse"], metrics["baseline_rmse"]
    improvement = (baseline - rmse) / baseline if baseline > 0 else 0.0
    return GateOutcome(
        passed=improvement >= min_improvement,
        evidence={
            "rmse": rmse,
            "baseline_rmse": baseline,
            "improvement": improvement,
            "min_improvement": min_improvement,
        },
        description=(
            f"RMSE {rmse:.4f} improves on the baseline's {baseline:.4f} by {improvement:.1%}, "
            f"less than {min_improvement:.1%}"
            if improvement < min_improvement
            else ""
        ),
    )
