"""A pandas point-in-time lookup of driver stats, for work that must not wait for Feast.

The training table always comes from Feast. This lookup serves the sample generator (labels
must follow the features in force) and the drift sensor (a cheap look at recent orders'
features inside a sensor tick, where importing Feast alone would take seconds).
"""

import numpy as np
import pandas as pd

from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
)

STATS_TIMESTAMP = "datetime"
STATS_CREATED = "created"
# A stats row's position in the file, negated: the tie-break that keeps the first.
_FILE_ROW = "__file_row"


def features_as_of(order_frame: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    """The stats row in force at each order's time, aligned with `order_frame`'s index.

    The latest stats row at or before the order wins; among rows of the same driver and time,
    the one with the latest `created`, as the offline store picks it: a row without `created`
    ranks below every row with one, and among rows equal in `created` (or without it) the
    first in the file wins. Orders with no earlier stats row get nulls.
    """
    # merge_asof refuses keys of different units (files written in microseconds, such as
    # Spark's or Feast's pushes, against nanosecond orders) and naive against aware times.
    stats = stats.assign(
        **{STATS_TIMESTAMP: _utc_ns(stats[STATS_TIMESTAMP]), _FILE_ROW: -np.arange(len(stats))}
    )
    # Ascending with nulls first, the last row of each driver and time is the one to keep.
    latest = (
        stats.sort_values([STATS_TIMESTAMP, STATS_CREATED, _FILE_ROW], na_position="first")
        .drop_duplicates([ENTITY_KEY, STATS_TIMESTAMP], keep="last")
        .drop(columns=_FILE_ROW)
    )
    left = order_frame[[EVENT_TIMESTAMP, ENTITY_KEY]].reset_index()
    left[EVENT_TIMESTAMP] = _utc_ns(left[EVENT_TIMESTAMP])
    left = left.sort_values(EVENT_TIMESTAMP)
    joined = pd.merge_asof(
        left,
        latest,
        left_on=EVENT_TIMESTAMP,
        right_on=STATS_TIMESTAMP,
        by=ENTITY_KEY,
        direction="backward",
    )
    return joined.set_index("index").reindex(order_frame.index)


def _utc_ns(times: pd.Series) -> pd.Series:
    """Times as UTC nanoseconds; naive times are read as UTC, as Feast reads them."""
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        times = pd.to_datetime(times).dt.tz_localize("UTC")
    return times.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
