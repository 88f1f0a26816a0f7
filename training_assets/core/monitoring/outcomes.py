"""The outcomes of logged predictions: each prediction of a day joined with the label that has
arrived for its request (same entity, same event time), or none yet.

A request scored twice by the same model in the same part (a day rescored, a retried run) is
one prediction here, the latest: the quality of a model is not weighted by how often a day was
rescored. Labels may arrive late and in any file; a key labelled more than once takes the last
label read (a correction written after the first), and the conflicts are counted.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from training_assets.core.monitoring.days import day_bounds
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL

LABELLED = "labelled"
REQUEST_KEY = [ENTITY_KEY, EVENT_TIMESTAMP]
# One prediction per request, part and model.
PREDICTION_KEY = ["source", "role", "model_name", "model_version", *REQUEST_KEY]
# The log's features (JSON text, the widest column by far) are not among the outcomes: the
# served features' drift reads them from the log (quality.served_features), and the outcomes
# of a day are joined, stored and loaded without them.
OUTCOME_COLUMNS = [
    "prediction_id",
    "source",
    "role",
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    "model_name",
    "model_version",
    "features_found",
    "prediction",
    "scored_at",
    # Which run or server wrote it: a shadow score is paired with the answer of its own
    # scoring, not with another run's answer to the same request.
    "writer",
    LABEL,
    LABELLED,
]
# What the join reads of the log: the outcomes' own columns and the sequence that orders two
# scores of one prediction logged at the same instant.
LOGGED_COLUMNS = [*OUTCOME_COLUMNS[: OUTCOME_COLUMNS.index(LABEL)], "sequence"]


@dataclass(frozen=True)
class OutcomeCounts:
    """What a day's join found."""

    logged_rows: int
    predictions: int
    labelled_rows: int
    unlabelled_rows: int
    conflicting_labels: int


def labels_of_day(tables: Iterable[pa.Table], day: date) -> pa.Table:
    """The orders of `day` (UTC) among `tables` (the orders read batch by batch), so that a
    day's join holds that day's labels only, never the whole orders: their request key and
    label, in the order they were read."""
    start, end = day_bounds(day)
    kept = []
    for table in tables:
        times = table.column(EVENT_TIMESTAMP)
        bounds = [pa.scalar(bound.to_pydatetime(), times.type) for bound in (start, end)]
        inside = pc.and_(pc.greater_equal(times, bounds[0]), pc.less(times, bounds[1]))
        kept.append(table.select(REQUEST_KEY + [LABEL]).filter(inside))
    if not kept:
        return pa.table(
            {
                ENTITY_KEY: pa.array([], pa.int64()),
                EVENT_TIMESTAMP: pa.array([], pa.timestamp("ns", tz="UTC")),
                LABEL: pa.array([], pa.int64()),
            }
        )
    return pa.concat_tables(kept)


# The latest score of each prediction key, as its position in the log (a later position wins
# a tie).
LATEST = f"""
SELECT arg_max(_position, (scored_at, sequence, _position)) AS _position
FROM logged
GROUP BY {", ".join(PREDICTION_KEY)}
"""
# Most days no prediction was scored twice, and LATEST (grouping a million rows on six
# columns) took most of the join's time. Whether any was is asked first, grouping on one hash
# of the key: no hash shared by two rows, no key either. A shared hash (a rescored prediction,
# or once in a long while two keys whose hashes collide) sends the day through LATEST.
_RESCORED = f"""
SELECT count(*) FROM (
    SELECT 1 FROM logged GROUP BY hash({", ".join(PREDICTION_KEY)}) HAVING count(*) > 1
)
"""
# The last label read of each request key (its read order given as `_read`; a null read last
# leaves the request unlabelled), and whether the key was given different labels (two values,
# or a value and a null).
_LABELS = f"""
CREATE TEMP TABLE labels AS
SELECT {ENTITY_KEY}, epoch_ns({EVENT_TIMESTAMP}) AS _at,
       CAST(arg_max_null({LABEL}, _read) AS DOUBLE) AS {LABEL},
       min({LABEL}) <> max({LABEL}) OR count({LABEL}) NOT IN (0, count(*)) AS _conflict
FROM orders
GROUP BY {ENTITY_KEY}, epoch_ns({EVENT_TIMESTAMP})
"""
# Each logged row's label, matched on the entity and the instant in nanoseconds (the log keeps
# microseconds, orders are read as nanoseconds: an order a fraction of a microsecond off is
# another request); by position, in no particular order. The logged rows themselves, with
# their strings, stay in Arrow, never copied through the query.
_JOIN = f"""
SELECT logged._position, labels.{LABEL}
FROM logged JOIN labels
  ON logged.{ENTITY_KEY} = labels.{ENTITY_KEY} AND epoch_ns(logged.{EVENT_TIMESTAMP}) = labels._at
"""


def with_positions(logged: pa.Table) -> pa.Table:
    """The log's prediction key and ordering columns with each row's position."""
    return logged.select([*PREDICTION_KEY, "scored_at", "sequence"]).append_column(
        "_position", pa.array(np.arange(logged.num_rows, dtype=np.int64))
    )


def latest_positions(connection, logged: pa.Table) -> np.ndarray:
    """The positions in `logged` of the latest score of each prediction key, in log order
    (`connection` a DuckDB connection)."""
    connection.register("logged", with_positions(logged))
    [(rescored,)] = connection.sql(_RESCORED).fetchall()
    if not rescored:
        return np.arange(logged.num_rows)
    return np.sort(connection.sql(LATEST).fetchnumpy()["_position"])


def join_outcomes(
    logged: pa.Table, orders: pa.Table | pd.DataFrame
) -> tuple[pa.Table, OutcomeCounts]:
    """The day's predictions (OUTCOME_COLUMNS) with their label (null while none has arrived)
    and `labelled`: one row per prediction key, the latest scored, in the order they were
    logged.

    Args:
        logged: The prediction log's rows of the day (LOG_SCHEMA's columns, at least
            LOGGED_COLUMNS).
        orders: Orders with `driver_id`, `event_timestamp` and the label, in the order they
            were read (a later row is a later correction); any days.
    """
    # Imported here, as the training table's queries import it: a run process that imported
    # DuckDB before its steps is left unfrozen (defs/process_tuning.py).
    import duckdb

    rows = logged.num_rows
    label = np.full(rows, np.nan)
    with duckdb.connect() as connection:
        positions = latest_positions(connection, logged)
        connection.register("orders", _labels(orders))
        connection.execute(_LABELS)
        [(conflicting,)] = connection.sql("SELECT count(*) FROM labels WHERE _conflict").fetchall()
        found = connection.sql(_JOIN).fetchnumpy()
    label[found["_position"]] = _as_float(found[LABEL])
    kept = logged.select(LOGGED_COLUMNS[:-1])
    if len(positions) < rows:  # some predictions were scored again: the latest scores only
        kept, label = kept.take(positions), label[positions]
    labelled = ~np.isnan(label)
    outcomes = kept.append_column(LABEL, pa.array(label, from_pandas=True)).append_column(
        LABELLED, pa.array(labelled)
    )
    found_labels = int(labelled.sum())
    counts = OutcomeCounts(
        logged_rows=rows,
        predictions=outcomes.num_rows,
        labelled_rows=found_labels,
        unlabelled_rows=outcomes.num_rows - found_labels,
        conflicting_labels=int(conflicting),
    )
    return outcomes, counts


def _labels(orders: pa.Table | pd.DataFrame) -> pa.Table:
    """The orders' request keys and labels as Arrow, with their read order as `_read`."""
    if isinstance(orders, pd.DataFrame):
        times = pd.to_datetime(orders[EVENT_TIMESTAMP], utc=True)
        columns = [
            pa.array(orders[ENTITY_KEY], pa.int64()),
            pa.array(times, pa.timestamp("ns", tz="UTC")),
            pa.array(orders[LABEL], from_pandas=True),
        ]
    else:
        columns = [orders.column(name) for name in (ENTITY_KEY, EVENT_TIMESTAMP, LABEL)]
    read = pa.array(np.arange(len(columns[0]), dtype=np.int64))
    return pa.table(columns + [read], names=[ENTITY_KEY, EVENT_TIMESTAMP, LABEL, "_read"])


def _as_float(values: np.ndarray) -> np.ndarray:
    """A fetched column as floats, NaN where it was null."""
    if isinstance(values, np.ma.MaskedArray):
        return values.astype(float).filled(np.nan)
    return np.asarray(values, dtype=float)
