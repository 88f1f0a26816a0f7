"""Gate logic: each function judges one property and returns the evidence for its verdict.

The checks in `training_assets.checks` turn these outcomes into Dagster check results; the
evidence dicts become check metadata, so every verdict shows expected against found.
"""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from training_assets.schema import FEATURES, LABEL, TRAINING_DTYPES


@dataclass(frozen=True)
class GateOutcome:
    passed: bool
    evidence: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def no_unexpected_columns(frame: pd.DataFrame) -> GateOutcome:
    """Only schema columns are present."""
    unexpected = [column for column in frame.columns if column not in TRAINING_DTYPES]
    return GateOutcome(
        passed=not unexpected,
        evidence={"expected_columns": list(TRAINING_DTYPES), "unexpected_columns": unexpected},
        description=f"unexpected columns: {unexpected}" if unexpected else "",
    )


def expected_columns_with_dtypes(frame: pd.DataFrame) -> GateOutcome:
    """Every schema column is present with its schema dtype."""
    missing = [column for column in TRAINING_DTYPES if column not in frame.columns]
    mistyped = {
        column: {"expected": expected, "found": str(frame[column].dtype)}
        for column, expected in TRAINING_DTYPES.items()
        if column in frame.columns and str(frame[column].dtype) != expected
    }
    problems = []
    if missing:
        problems.append(f"missing columns: {missing}")
    if mistyped:
        problems.append(f"wrong dtypes: {mistyped}")
    return GateOutcome(
        passed=not (missing or mistyped),
        evidence={
            "expected_dtypes": dict(TRAINING_DTYPES),
            "found_dtypes": {column: str(dtype) for column, dtype in frame.dtypes.items()},
            "missing_columns": missing,
            "mistyped_columns": mistyped,
        },
        description="; ".join(problems),
    )


def labels_are_binary(frame: pd.DataFrame) -> GateOutcome:
    """The label is 0 or 1 on every row, never null."""
    if LABEL not in frame.columns:
        return GateOutcome(False, {"missing_column": LABEL}, f"no {LABEL!r} column")
    labels = frame[LABEL]
    nulls = int(labels.isna().sum())
    present = labels.dropna()
    bad = present[~present.isin([0, 1])]
    return GateOutcome(
        passed=nulls == 0 and bad.empty,
        evidence={
            "expected_values": [0, 1],
            "null_labels": nulls,
            "non_binary_labels": len(bad),
            "non_binary_examples": sorted(map(str, bad.unique()[:10])),
            "positive_rate": float((present == 1).mean()) if len(present) else 0.0,
        },
        description=(f"{nulls} null and {len(bad)} non-binary labels" if nulls or len(bad) else ""),
    )


def feature_nulls_within_rate(frame: pd.DataFrame, max_null_rate: float) -> GateOutcome:
    """Every feature column is present and null on at most `max_null_rate` of rows."""
    missing = [column for column in FEATURES if column not in frame.columns]
    rates = {
        column: float(frame[column].isna().mean()) if len(frame) else 0.0
        for column in FEATURES
        if column not in missing
    }
    over = {column: rate for column, rate in rates.items() if rate > max_null_rate}
    problems = []
    if missing:
        problems.append(f"missing features: {missing}")
    if over:
        problems.append(f"null rate above {max_null_rate}: {over}")
    return GateOutcome(
        passed=not (over or missing),
        evidence={
            "max_null_rate": max_null_rate,
            "null_rates": rates,
            "over_limit": over,
            "missing_features": missing,
        },
        description="; ".join(problems),
    )


def row_count_at_least(frame: pd.DataFrame, minimum: int) -> GateOutcome:
    """The table has at least `minimum` rows."""
    return GateOutcome(
        passed=len(frame) >= minimum,
        evidence={"min_rows": minimum, "rows": len(frame)},
        description=f"{len(frame)} rows, fewer than {minimum}" if len(frame) < minimum else "",
    )


def row_count_matches_orders(frame: pd.DataFrame, order_count: int) -> GateOutcome:
    """The join kept every order exactly once: as many rows as input orders."""
    rows = len(frame)
    return GateOutcome(
        passed=rows == order_count,
        evidence={"orders": order_count, "rows": rows, "difference": rows - order_count},
        description=f"{rows} rows for {order_count} orders" if rows != order_count else "",
    )


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
