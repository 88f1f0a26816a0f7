"""The training table as Arrow: the join's input order restored, times in UTC nanoseconds,
and the figures the training_data asset reports.

Nothing here imports Dagster, Feast or MLflow.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from training_assets.core.schema import (
    EVENT_TIMESTAMP,
    FEATURE_EPOCH,
    FEATURE_TIMESTAMP,
    FEATURES,
    LABEL,
    TRAINING_COLUMNS,
)
from training_assets.core.timing import timed

ORDER_POSITION = "__order_position"


# Arrow's UTC nanosecond timestamp; naive times cast to it keep their values, so read as UTC.
UTC_NS = pa.timestamp("ns", tz="UTC")


@timed("with_order_position")
def with_order_position(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders with a column recording each row's position, to restore order after a join.

    The input is left as it is; the result shares its columns rather than copying them.
    """
    positioned = orders.copy(deep=False)
    positioned[ORDER_POSITION] = np.arange(len(orders), dtype=np.int64)
    return positioned


@timed("as_training_table")
def as_training_table(joined: pa.Table) -> pa.Table:
    """The joined table back in input order, without the position column.

    Columns the schema knows come first, in schema order. Anything else is kept after them,
    so that the schema gates report it instead of it vanishing here. Event and feature times
    become UTC nanosecond timestamps; naive times are UTC, as Feast reads them. Columns are
    re-typed or reordered without copying the others.
    """
    positions = joined.column(ORDER_POSITION)
    if len(positions) > 1 and not _is_increasing(positions):
        joined = joined.take(pc.sort_indices(positions))
    if FEATURE_EPOCH in joined.column_names:
        seconds = joined.column(FEATURE_EPOCH).cast(pa.int64())
        nanoseconds = pc.multiply_checked(seconds, 1_000_000_000)
        joined = joined.append_column(FEATURE_TIMESTAMP, nanoseconds.cast(UTC_NS))
    if EVENT_TIMESTAMP in joined.column_names and pa.types.is_timestamp(
        joined.schema.field(EVENT_TIMESTAMP).type
    ):
        index = joined.schema.get_field_index(EVENT_TIMESTAMP)
        joined = joined.set_column(index, EVENT_TIMESTAMP, joined.column(index).cast(UTC_NS))
    names = joined.column_names
    known = [column for column in TRAINING_COLUMNS if column in names]
    dropped = {ORDER_POSITION, FEATURE_EPOCH}
    extra = [c for c in names if c not in TRAINING_COLUMNS and c not in dropped]
    # Pandas metadata from an earlier frame would restore that frame's zones and dtypes.
    return joined.select(known + extra).replace_schema_metadata(None)


def rows_without_features(table: pa.Table) -> int:
    """Rows in which every feature the table has is null or NaN: orders no stats row matched."""
    present = [table.column(name) for name in FEATURES if name in table.column_names]
    if not present:
        return table.num_rows
    missing = pc.is_null(present[0], nan_is_null=True)
    for column in present[1:]:
        missing = pc.and_(missing, pc.is_null(column, nan_is_null=True))
    return int(pc.sum(missing).as_py() or 0)


def positive_rate(table: pa.Table) -> float:
    """The mean label, 0.0 for a table without rows or labels."""
    if LABEL not in table.column_names or table.num_rows == 0:
        return 0.0
    mean = pc.mean(table.column(LABEL).cast(pa.float64())).as_py()
    return 0.0 if mean is None else float(mean)


def _is_increasing(values: pa.ChunkedArray) -> bool:
    return pc.all(pc.greater(values[1:], values[:-1])).as_py()
