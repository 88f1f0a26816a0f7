"""Gates on the training table: schema, labels, nulls, row counts, ranges, duplicates and
point-in-time correctness. Each judges one property and returns the evidence for its verdict.
"""

import numpy as np
import pandas as pd
import pyarrow as pa

from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURE_CREATED,
    FEATURE_TIMESTAMP,
    LABEL,
    TrainingSchema,
)


def no_unexpected_columns(frame: pd.DataFrame, schema: TrainingSchema) -> GateOutcome:
    """Only schema columns are present."""
    expected = schema.columns
    unexpected = [column for column in frame.columns if column not in expected]
    return GateOutcome(
        passed=not unexpected,
        evidence={"expected_columns": list(expected), "unexpected_columns": unexpected},
        description=f"unexpected columns: {unexpected}" if unexpected else "",
    )


def expected_columns_with_dtypes(frame: pd.DataFrame, schema: TrainingSchema) -> GateOutcome:
    """Every schema column is present with its schema dtype."""
    dtypes = schema.dtypes
    missing = [column for column in dtypes if column not in frame.columns]
    mistyped = {
        column: {"expected": expected, "found": str(frame[column].dtype)}
        for column, expected in dtypes.items()
        if column in frame.columns and not _holds(frame[column], expected)
    }
    problems = []
    if missing:
        problems.append(f"missing columns: {missing}")
    if mistyped:
        problems.append(f"wrong dtypes: {mistyped}")
    return GateOutcome(
        passed=not (missing or mistyped),
        evidence={
            "expected_dtypes": dtypes,
            "found_dtypes": {column: str(dtype) for column, dtype in frame.dtypes.items()},
            "missing_columns": missing,
            "mistyped_columns": mistyped,
        },
        description="; ".join(problems),
    )


def _holds(values: pd.Series, expected: str) -> bool:
    """Whether `values` has the dtype `expected`, or is how pandas holds an integer column with
    nulls (float64) and every present value is a whole number within the integer's range.

    So the verdict on a healthy table is the same whether or not some order lacks features.
    """
    if str(values.dtype) == expected:
        return True
    if not (expected.startswith("int") and str(values.dtype) == "float64"):
        return False
    present = values.dropna().to_numpy()
    if len(present) == len(values):
        return False  # no nulls: the join would have kept the integer type
    limits = np.iinfo(np.dtype(expected))
    return bool(
        np.all(np.mod(present, 1) == 0)
        and np.all(present >= limits.min)
        and np.all(present <= limits.max)
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


def feature_nulls_within_rate(
    frame: pd.DataFrame, schema: TrainingSchema, max_null_rate: float
) -> GateOutcome:
    """Every feature column is present and null on at most `max_null_rate` of rows."""
    missing = [column for column in schema.feature_names if column not in frame.columns]
    rates = {
        column: float(frame[column].isna().mean()) if len(frame) else 0.0
        for column in schema.feature_names
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


def feature_values_in_range(frame: pd.DataFrame, schema: TrainingSchema) -> GateOutcome:
    """Every non-null feature value lies in its declared range (validated by pandera)."""
    import pandera.pandas as pa

    bounded = [f for f in schema.features if f.minimum is not None or f.maximum is not None]
    checks = {
        feature.name: pa.Column(
            checks=[
                pa.Check.in_range(
                    -np.inf if feature.minimum is None else feature.minimum,
                    np.inf if feature.maximum is None else feature.maximum,
                )
            ],
            nullable=True,
            required=False,
        )
        for feature in bounded
    }
    expected = {feature.name: feature.range_text() for feature in bounded}
    found = {
        feature.name: [float(frame[feature.name].min()), float(frame[feature.name].max())]
        for feature in bounded
        if feature.name in frame.columns and frame[feature.name].notna().any()
    }
    try:
        pa.DataFrameSchema(checks).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        out_of_range = {
            str(column): {
                "rows": int(len(group)),
                "examples": sorted(map(float, group["failure_case"].head(5))),
            }
            for column, group in cases.groupby("column")
        }
        return GateOutcome(
            passed=False,
            evidence={
                "expected_ranges": expected,
                "found_min_max": found,
                "out_of_range": out_of_range,
            },
            description=f"values out of range: {sorted(out_of_range)}",
        )
    return GateOutcome(True, {"expected_ranges": expected, "found_min_max": found})


def duplicate_rows_within_rate(frame: pd.DataFrame, max_rate: float) -> GateOutcome:
    """Rows repeating (driver_id, event_timestamp, label) are at most `max_rate` of the table."""
    keys = [column for column in (ENTITY_KEY, EVENT_TIMESTAMP, LABEL) if column in frame.columns]
    duplicated = 0
    if len(frame) and keys:
        # Rows less distinct key combinations; Arrow's hash grouping is faster than
        # DataFrame.duplicated on millions of rows and, like it, takes nulls as equal.
        keyed = pa.Table.from_pandas(frame[keys], preserve_index=False)
        duplicated = len(frame) - keyed.group_by(keys).aggregate([]).num_rows
    rate = duplicated / len(frame) if len(frame) else 0.0
    return GateOutcome(
        passed=rate <= max_rate,
        evidence={"duplicate_rows": duplicated, "duplicate_rate": rate, "max_rate": max_rate},
        description=f"{duplicated} duplicate rows ({rate:.2%}) above {max_rate:.2%}"
        if rate > max_rate
        else "",
    )


def features_not_from_the_future(frame: pd.DataFrame) -> GateOutcome:
    """No order was joined with a feature row stamped after the order's event time."""
    return _times_not_after_order(
        frame,
        FEATURE_TIMESTAMP,
        "rows_from_the_future",
        "joined a feature row from after the order",
    )


def features_created_before_order(frame: pd.DataFrame) -> GateOutcome:
    """No order was joined with a feature row written after the order's event time.

    Such a row (a late correction or a backfill) was not known when the order happened, so a
    model trained on it learns from the future. Feast's `filter_by_created_timestamp` (the
    `feast` resource's setting) keeps such rows out of the join.
    """
    return _times_not_after_order(
        frame,
        FEATURE_CREATED,
        "rows_created_after_order",
        "joined a feature row written after the order",
    )


def _times_not_after_order(frame: pd.DataFrame, column: str, count_key: str, what: str):
    """The point-in-time audit of `column` (a provenance time of the joined rows) against each
    order's event time; rows with no joined feature row pass."""
    if column not in frame.columns:
        return GateOutcome(False, {"missing_column": column}, f"no {column!r} column")
    late = frame[frame[column] > frame[EVENT_TIMESTAMP]]
    shown = [FEATURE_TIMESTAMP, FEATURE_CREATED]
    examples = [
        {"event": str(row[EVENT_TIMESTAMP])}
        | {name: str(row[name]) for name in shown if name in frame.columns}
        for _, row in late.head(5).iterrows()
    ]
    rate = len(late) / len(frame) if len(frame) else 0.0
    return GateOutcome(
        passed=late.empty,
        evidence={
            "expected": f"{column} <= {EVENT_TIMESTAMP}",
            count_key: len(late),
            "rate": rate,
            "examples": examples,
        },
        description=f"{len(late)} rows ({rate:.1%}) {what}" if len(late) else "",
    )
