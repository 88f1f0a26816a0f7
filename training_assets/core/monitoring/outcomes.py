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


def utc_ns(times: pd.Series) -> pd.Series:
    """Times as UTC nanoseconds, the one dtype both sides of the join are compared in (the
    log keeps microseconds, orders are read as nanoseconds)."""
    return pd.to_datetime(times, utc=True).astype("datetime64[ns, UTC]")


def latest_predictions(logged: pa.Table) -> pd.DataFrame:
    """The logged rows, one per request, part and model: the latest scored."""
    frame = logged.to_pandas()
    frame[EVENT_TIMESTAMP] = utc_ns(frame[EVENT_TIMESTAMP])
    frame = frame.sort_values(["scored_at", "sequence"], kind="stable")
    return frame.drop_duplicates(PREDICTION_KEY, keep="last").sort_index()


def labels_by_request(orders: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One label per request key, the last read; and how many keys had differing labels."""
    frame = orders[[*REQUEST_KEY, LABEL]].copy()
    frame[EVENT_TIMESTAMP] = utc_ns(frame[EVENT_TIMESTAMP])
    distinct = frame.drop_duplicates().groupby(REQUEST_KEY, sort=False).size()
    conflicting = int((distinct > 1).sum())
    return frame.drop_duplicates(REQUEST_KEY, keep="last"), conflicting


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


def join_outcomes(logged: pa.Table, orders: pd.DataFrame) -> tuple[pd.DataFrame, OutcomeCounts]:
    """The day's predictions with their label (NaN while none has arrived) and `labelled`.

    Args:
        logged: The prediction log's rows of the day (LOG_SCHEMA).
        orders: Orders with `driver_id`, `event_timestamp` and the label; any days.
    """
    predictions = latest_predictions(logged)
    labels, conflicting = labels_by_request(orders)
    joined = predictions.merge(labels, on=REQUEST_KEY, how="left", validate="many_to_one")
    joined[LABEL] = joined[LABEL].astype("float64")
    joined[LABELLED] = joined[LABEL].notna()
    joined = joined[OUTCOME_COLUMNS].reset_index(drop=True)
    labelled = int(joined[LABELLED].sum())
    counts = OutcomeCounts(
        logged_rows=logged.num_rows,
        predictions=len(joined),
        labelled_rows=labelled,
        unlabelled_rows=len(joined) - labelled,
        conflicting_labels=conflicting,
    )
    return joined, counts
