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
OUTCOME_COLUMNS = [
    "prediction_id",
    "source",
    "role",
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    "model_name",
    "model_version",
    "features",
    "features_found",
    "prediction",
    "scored_at",
    # Which run or server wrote it: a shadow score is paired with the answer of its own
    # scoring, not with another run's answer to the same request.
    "writer",
    LABEL,
    LABELLED,
]


@dataclass(frozen=True)
class OutcomeCounts:
    """What a day's join found."""

    logged_rows: int
    predictions: int
    labelled_rows: int
    unlabelled_rows: int
    conflicting_labels: int


def labels_of_day(tables: Iterable[pa.Table], day: date) -> pd.DataFrame:
    """The orders of `day` (UTC) among `tables` (the orders read batch by batch), so that a
    day's join holds that day's labels only, never the whole orders."""
    start, end = day_bounds(day)
    kept = []
    for table in tables:
        times = table.column(EVENT_TIMESTAMP)
        bounds = [pa.scalar(bound.to_pydatetime(), times.type) for bound in (start, end)]
        inside = pc.and_(pc.greater_equal(times, bounds[0]), pc.less(times, bounds[1]))
        kept.append(table.select(REQUEST_KEY + [LABEL]).filter(inside))
    if not kept:
        return pd.DataFrame(columns=[*REQUEST_KEY, LABEL])
    return pa.concat_tables(kept).to_pandas()


# The day's join, in DuckDB over the Arrow tables in hand, on keys and positions only: the log
# position of the latest score of each prediction key (a later position wins a tie), and the
# last label read of each request key (its read order given as `_read`), matched on the entity
# and the instant in nanoseconds (the log keeps microseconds, orders are read as nanoseconds:
# an order a fraction of a microsecond off is another request). The logged rows themselves,
# with their strings, are taken by position in Arrow, never copied through the query.
_JOIN = f"""
WITH latest AS (
    SELECT {ENTITY_KEY}, epoch_ns({EVENT_TIMESTAMP}) AS _at,
           arg_max(_position, (scored_at, sequence, _position)) AS _position
    FROM logged
    GROUP BY {", ".join(PREDICTION_KEY)}
),
labels AS (
    SELECT {ENTITY_KEY}, epoch_ns({EVENT_TIMESTAMP}) AS _at, {LABEL}
    FROM orders
    QUALIFY row_number() OVER (
        PARTITION BY {ENTITY_KEY}, epoch_ns({EVENT_TIMESTAMP}) ORDER BY _read DESC
    ) = 1
)
SELECT latest._position, CAST(labels.{LABEL} AS DOUBLE) AS {LABEL}
FROM latest LEFT JOIN labels
  ON latest.{ENTITY_KEY} = labels.{ENTITY_KEY} AND latest._at = labels._at
ORDER BY latest._position
"""
_CONFLICTS = f"""
SELECT count(*) FROM (
    SELECT 1 FROM orders
    GROUP BY {ENTITY_KEY}, epoch_ns({EVENT_TIMESTAMP})
    HAVING count(DISTINCT coalesce(CAST({LABEL} AS VARCHAR), '')) > 1
)
"""


def join_outcomes(logged: pa.Table, orders: pd.DataFrame) -> tuple[pd.DataFrame, OutcomeCounts]:
    """The day's predictions with their label (NaN while none has arrived) and `labelled`:
    one row per prediction key, the latest scored, in the order they were logged.

    Args:
        logged: The prediction log's rows of the day (LOG_SCHEMA).
        orders: Orders with `driver_id`, `event_timestamp` and the label, in the order they
            were read (a later row is a later correction); any days.
    """
    labels = pa.table(
        {
            ENTITY_KEY: pa.array(orders[ENTITY_KEY], pa.int64()),
            EVENT_TIMESTAMP: pa.array(
                pd.to_datetime(orders[EVENT_TIMESTAMP], utc=True), pa.timestamp("ns", tz="UTC")
            ),
            LABEL: pa.array(orders[LABEL], from_pandas=True),
            "_read": pa.array(np.arange(len(orders), dtype=np.int64)),
        }
    )
    keyed = logged.select([*PREDICTION_KEY, "scored_at", "sequence"]).append_column(
        "_position", pa.array(np.arange(logged.num_rows, dtype=np.int64))
    )
    # Imported here, as the training table's queries import it: a run process that imported
    # DuckDB before its steps is left unfrozen (defs/process_tuning.py).
    import duckdb

    with duckdb.connect() as connection:
        connection.register("logged", keyed)
        connection.register("orders", labels)
        found = connection.sql(_JOIN).to_arrow_table()
        [(conflicting,)] = connection.sql(_CONFLICTS).fetchall()
    kept = logged.take(found.column("_position"))
    label = found.column(LABEL)
    kept = kept.append_column(LABEL, label).append_column(LABELLED, pc.is_valid(label))
    # Strings stay in Arrow's memory (pandas' pyarrow-backed string dtype): a day of a
    # million predictions carries a million ids and feature records.
    frame = kept.select(OUTCOME_COLUMNS).to_pandas(
        types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get
    )
    frame[EVENT_TIMESTAMP] = frame[EVENT_TIMESTAMP].astype("datetime64[ns, UTC]")
    labelled = int(frame[LABELLED].sum())
    counts = OutcomeCounts(
        logged_rows=logged.num_rows,
        predictions=len(frame),
        labelled_rows=labelled,
        unlabelled_rows=len(frame) - labelled,
        conflicting_labels=int(conflicting),
    )
    return frame, counts
