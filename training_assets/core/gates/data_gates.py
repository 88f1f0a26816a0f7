"""Gates on the training table: schema, labels, nulls, row counts, ranges, duplicates and
point-in-time correctness, and on the feature files it was joined from: their rows' times.
Each judges one property and returns the evidence for its verdict.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pyarrow as pa

from training_assets.core.data.table_query import TableFile, TableQuery, quote
from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURE_CREATED,
    FEATURE_TIMESTAMP,
    LABEL,
    FeatureSource,
    TrainingSchema,
)
from training_assets.core.secrets import redact_uri

# What a gate reads: the training table's file (through a TableQuery), a frame or an Arrow table.
Table = TableQuery | pd.DataFrame | pa.Table


@contextmanager
def queried(table: Table) -> Iterator[TableQuery]:
    """`table` as a TableQuery: the one given, or one opened on the frame and closed after."""
    if isinstance(table, TableQuery):
        yield table
        return
    with TableQuery(table) as query:
        yield query


def no_unexpected_columns(table: Table, schema: TrainingSchema) -> GateOutcome:
    """Only schema columns are present."""
    with queried(table) as query:
        columns = query.columns
    expected = schema.columns
    unexpected = [column for column in columns if column not in expected]
    return GateOutcome(
        passed=not unexpected,
        evidence={"expected_columns": list(expected), "unexpected_columns": unexpected},
        description=f"unexpected columns: {unexpected}" if unexpected else "",
    )


def expected_columns_with_dtypes(table: Table, schema: TrainingSchema) -> GateOutcome:
    """Every schema column is present with its schema dtype."""
    dtypes = schema.dtypes
    with queried(table) as query:
        found = query.dtypes
        missing = [column for column in dtypes if column not in found]
        mistyped = {
            column: {"expected": expected, "found": found[column]}
            for column, expected in dtypes.items()
            if column in found and not _holds(query, column, expected)
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
            "found_dtypes": found,
            "missing_columns": missing,
            "mistyped_columns": mistyped,
        },
        description="; ".join(problems),
    )


def _holds(query: TableQuery, column: str, expected: str) -> bool:
    """Whether `column` has the dtype `expected`, or is how pandas holds an integer column with
    nulls (float64) and every present value is a whole number within the integer's range.

    So the verdict on a healthy table is the same whether or not some order lacks features.
    """
    found = query.dtypes[column]
    if found == expected:
        return True
    if not (expected.startswith("int") and found == "float64"):
        return False
    limits = np.iinfo(np.dtype(expected))
    name = quote(column)
    nulls, bad = query.one(
        f"SELECT count(*) FILTER ({query.missing(column)}), "
        f"count(*) FILTER (NOT {query.missing(column)} AND ({name} <> floor({name}) "
        f"OR {name} < {limits.min} OR {name} > {limits.max})) FROM {{t}}"
    )
    # No nulls: the join would have kept the integer type.
    return nulls > 0 and bad == 0


def labels_are_binary(table: Table) -> GateOutcome:
    """The label is 0 or 1 on every row, never null."""
    with queried(table) as query:
        if LABEL not in query.columns:
            return GateOutcome(False, {"missing_column": LABEL}, f"no {LABEL!r} column")
        # As a number: a text or other label is then simply not 0 or 1.
        label, missing = f"TRY_CAST({quote(LABEL)} AS DOUBLE)", query.missing(LABEL)
        nulls, bad, positives, present = query.one(
            f"SELECT count(*) FILTER ({missing}), "
            f"count(*) FILTER (NOT {missing} AND coalesce({label} NOT IN (0, 1), true)), "
            f"count(*) FILTER ({label} = 1), count(*) FILTER (NOT {missing}) FROM {{t}}"
        )
        examples = (
            [
                value
                for (value,) in query.rows(
                    f"SELECT DISTINCT {quote(LABEL)} FROM {{t}} "
                    f"WHERE NOT {missing} AND coalesce({label} NOT IN (0, 1), true) LIMIT 10"
                )
            ]
            if bad
            else []
        )
    return GateOutcome(
        passed=nulls == 0 and bad == 0,
        evidence={
            "expected_values": [0, 1],
            "null_labels": nulls,
            "non_binary_labels": bad,
            "non_binary_examples": sorted(map(str, examples)),
            "positive_rate": positives / present if present else 0.0,
        },
        description=(f"{nulls} null and {bad} non-binary labels" if nulls or bad else ""),
    )


def feature_nulls_within_rate(
    table: Table, schema: TrainingSchema, max_null_rate: float
) -> GateOutcome:
    """Every feature column is present and null on at most `max_null_rate` of rows."""
    with queried(table) as query:
        missing = [column for column in schema.feature_names if column not in query.columns]
        present = [column for column in schema.feature_names if column not in missing]
        counts = query.missing_counts(present)
        rows = query.num_rows
    rates = {
        column: count / rows if rows else 0.0 for column, count in zip(present, counts, strict=True)
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


def row_count_at_least(table: Table, minimum: int) -> GateOutcome:
    """The table has at least `minimum` rows."""
    rows = _rows(table)
    return GateOutcome(
        passed=rows >= minimum,
        evidence={"min_rows": minimum, "rows": rows},
        description=f"{rows} rows, fewer than {minimum}" if rows < minimum else "",
    )


def row_count_matches_orders(table: Table, order_count: int) -> GateOutcome:
    """The join kept every order exactly once: as many rows as input orders."""
    rows = _rows(table)
    return GateOutcome(
        passed=rows == order_count,
        evidence={"orders": order_count, "rows": rows, "difference": rows - order_count},
        description=f"{rows} rows for {order_count} orders" if rows != order_count else "",
    )


def _rows(table: Table) -> int:
    return table.num_rows if isinstance(table, TableQuery | pa.Table) else len(table)


def feature_values_in_range(table: Table, schema: TrainingSchema) -> GateOutcome:
    """Every non-null feature value lies in its declared range.

    A file's statistics give each feature's extremes without a pass over it; only a feature
    whose extremes fall outside its range (or a file whose statistics cannot say, or a frame)
    takes one pass in DuckDB, for the extremes, the rows outside and five of them. (A
    validation library would want the table as a frame in memory.)
    """
    bounded = [f for f in schema.features if f.minimum is not None or f.maximum is not None]
    expected = {feature.name: feature.range_text() for feature in bounded}
    found, out_of_range = {}, {}
    with queried(table) as query:
        for feature in bounded:
            if feature.name not in query.columns:
                continue
            extremes = query.extremes(feature.name)
            if extremes is not None and feature.contains(*extremes):
                found[feature.name] = list(extremes)
                continue
            # As a number, so that a column of another type is judged, not a query error.
            name = f"TRY_CAST({quote(feature.name)} AS DOUBLE)"
            missing = query.missing(feature.name)
            outside = " OR ".join(
                condition
                for condition in (
                    None if feature.minimum is None else f"{name} < {feature.minimum!r}",
                    None if feature.maximum is None else f"{name} > {feature.maximum!r}",
                )
                if condition
            )
            low, high, count = query.one(
                f"SELECT min({name}) FILTER (NOT {missing}), max({name}) FILTER (NOT {missing}), "
                f"count(*) FILTER (NOT {missing} AND ({outside})) FROM {{t}}"
            )
            if low is not None:
                found[feature.name] = [float(low), float(high)]
            if count:
                examples = query.rows(
                    f"SELECT {name} FROM {{t}} WHERE NOT {missing} AND ({outside}) LIMIT 5"
                )
                out_of_range[feature.name] = {
                    "rows": int(count),
                    "examples": sorted(float(value) for (value,) in examples),
                }
    evidence = {"expected_ranges": expected, "found_min_max": found}
    if out_of_range:
        return GateOutcome(
            passed=False,
            evidence={**evidence, "out_of_range": out_of_range},
            description=f"values out of range: {sorted(out_of_range)}",
        )
    return GateOutcome(True, evidence)


def duplicate_rows_within_rate(table: Table, max_rate: float) -> GateOutcome:
    """Rows repeating (driver_id, event_timestamp, label) are at most `max_rate` of the table."""
    with queried(table) as query:
        keys = [c for c in (ENTITY_KEY, EVENT_TIMESTAMP, LABEL) if c in query.columns]
        rows = query.num_rows
        duplicated = 0
        if rows and keys:
            # Rows less distinct key combinations; GROUP BY takes nulls as equal.
            (distinct,) = query.one(
                "SELECT count(*) FROM (SELECT 1 FROM {t} GROUP BY "
                + ", ".join(quote(key) for key in keys)
                + ")"
            )
            duplicated = rows - distinct
    rate = duplicated / rows if rows else 0.0
    return GateOutcome(
        passed=rate <= max_rate,
        evidence={"duplicate_rows": duplicated, "duplicate_rate": rate, "max_rate": max_rate},
        description=f"{duplicated} duplicate rows ({rate:.2%}) above {max_rate:.2%}"
        if rate > max_rate
        else "",
    )


def features_not_from_the_future(table: Table) -> GateOutcome:
    """No order was joined with a feature row stamped after the order's event time."""
    return _times_not_after_order(
        table,
        FEATURE_TIMESTAMP,
        "rows_from_the_future",
        "joined a feature row from after the order",
    )


def features_created_before_order(table: Table) -> GateOutcome:
    """No order was joined with a feature row written after the order's event time.

    Such a row (a late correction or a backfill) was not known when the order happened, so a
    model trained on it learns from the future. Feast's `filter_by_created_timestamp` (the
    `feast` resource's setting) keeps such rows out of the join.
    """
    return _times_not_after_order(
        table,
        FEATURE_CREATED,
        "rows_created_after_order",
        "joined a feature row written after the order",
    )


def _times_not_after_order(table: Table, column: str, count_key: str, what: str):
    """The point-in-time audit of `column` (a provenance time of the joined rows) against each
    order's event time; rows with no joined feature row pass."""
    with queried(table) as query:
        if column not in query.columns:
            return GateOutcome(False, {"missing_column": column}, f"no {column!r} column")
        late_rows = f"{quote(column)} > {quote(EVENT_TIMESTAMP)}"
        (late,) = query.one(f"SELECT count(*) FILTER ({late_rows}) FROM {{t}}")
        shown = [name for name in (FEATURE_TIMESTAMP, FEATURE_CREATED) if name in query.columns]
        examples = (
            query.frame(
                f"SELECT {', '.join(quote(c) for c in [EVENT_TIMESTAMP, *shown])} FROM {{t}} "
                f"WHERE {late_rows} LIMIT 5"
            )
            if late
            else pd.DataFrame()
        )
        rows = query.num_rows
    listed = [
        {"event": str(row[EVENT_TIMESTAMP])} | {name: str(row[name]) for name in shown}
        for _, row in examples.iterrows()
    ]
    rate = late / rows if rows else 0.0
    return GateOutcome(
        passed=late == 0,
        evidence={
            "expected": f"{column} <= {EVENT_TIMESTAMP}",
            count_key: late,
            "rate": rate,
            "examples": listed,
        },
        description=f"{late} rows ({rate:.1%}) {what}" if late else "",
    )


def feature_times_not_null(
    sources: Sequence[FeatureSource], max_null_rate: float, **settings
) -> GateOutcome:
    """Each feature view's file has its timestamp and created time on all but at most
    `max_null_rate` of its rows.

    The join cannot tell which version of a driver's hour is the latest without a created
    time: a row without one loses to any row with one and is never joined with
    `filter_by_created_timestamp`, and among rows without one the file's order decides. A row
    without a timestamp is never joined. Either way the training table looks whole, so the
    files are judged here.

    Args:
        settings: `memory_limit` and `temp_directory` of the DuckDB queries.
    """
    return _columns_not_null(
        sources,
        lambda source: [c for c in (source.timestamp, source.created) if c],
        max_null_rate,
        f"each view's timestamp and created null on at most {max_null_rate} of its file's rows",
        settings,
    )


def feature_keys_not_null(sources: Sequence[FeatureSource], **settings) -> GateOutcome:
    """No row of a feature view's file lacks a join key.

    Such a row belongs to no entity and is never joined: the hour it describes is missing, and
    an order in it silently takes an older hour's values within the view's TTL. Nothing in the
    training table shows it, so the files are judged here; a file with keyless rows is broken.
    """
    return _columns_not_null(
        sources,
        lambda source: list(source.keys),
        0.0,
        "no null join key in any view's file",
        settings,
    )


def _columns_not_null(sources, columns_of, max_null_rate: float, expected: str, settings):
    """Null counts of some columns of each view's file, judged against `max_null_rate`."""
    counts, rates, files, rows, missing, views = {}, {}, {}, {}, {}, {}
    for source in sources:
        columns = columns_of(source)
        with TableQuery(TableFile(source.path), **settings) as query:
            absent = [c for c in columns if c not in query.columns]
            present = [c for c in columns if c not in absent]
            found = query.missing_counts(present)
            total = query.num_rows
        files[source.view], rows[source.view] = redact_uri(source.path), total
        if absent:
            missing[source.view] = absent
        for column, nulls in zip(present, found, strict=True):
            name = f"{source.view}.{column}"
            counts[name], views[name] = nulls, source.view
            rates[name] = nulls / total if total else 0.0
    over = {name: rate for name, rate in rates.items() if rate > max_null_rate}
    problems = [
        f"{name} null on {counts[name]} of {rows[views[name]]} rows ({rate:.2%}) of "
        f"{files[views[name]]}, above {max_null_rate:.2%}"
        for name, rate in over.items()
    ] + [f"{view}: no column {absent} in {files[view]}" for view, absent in missing.items()]
    return GateOutcome(
        passed=not (over or missing),
        evidence={
            "expected": expected,
            "max_null_rate": max_null_rate,
            "files": files,
            "rows": rows,
            "null_counts": counts,
            "null_rates": rates,
            "over_limit": over,
            "missing_columns": missing,
        },
        description="; ".join(problems),
    )
