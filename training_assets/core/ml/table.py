"""The training table as Arrow: the join's input order restored, times in UTC nanoseconds,
written slice by slice for large order sets, and the figures the training_data asset reports.

Nothing here imports Dagster, Feast or MLflow.
"""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from training_assets.core.data.storage import LARGE_TABLE_OPTIONS, release_memory
from training_assets.core.schema import (
    EVENT_TIMESTAMP,
    FEATURE_CREATED,
    FEATURE_TIMESTAMP,
    LABEL,
    PROVENANCE_PREFIX,
    TrainingSchema,
)
from training_assets.core.timing import timed

ORDER_POSITION = "__order_position"


# Arrow's UTC nanosecond timestamp; naive times cast to it keep their values, so read as UTC.
UTC_NS = pa.timestamp("ns", tz="UTC")


@timed("with_order_position")
def with_order_position(orders: pd.DataFrame, start: int = 0) -> pd.DataFrame:
    """The orders with a column recording each row's position (from `start`), to restore
    order after a join.

    The input is left as it is; the result shares its columns rather than copying them.
    """
    positioned = orders.copy(deep=False)
    positioned[ORDER_POSITION] = np.arange(start, start + len(orders), dtype=np.int64)
    return positioned


class TableFigures(NamedTuple):
    """What the training_data asset reports of the table it wrote."""

    rows: int
    rows_without_features: int
    positive_rate: float


def write_training_table(
    orders: Iterable[pa.Table],
    join: Callable[[pd.DataFrame], pa.Table],
    schema: TrainingSchema,
    path: Path,
    slice_rows: int,
) -> TableFigures:
    """Join the orders `slice_rows` at a time and write the training table to `path`, a
    local parquet file, slice after slice, in the orders' order.

    A point-in-time join is row by row, so joining the orders in slices gives the rows that
    joining them at once gives; the step then holds one slice's frame and join, whatever the
    number of orders. Up to `slice_rows` orders are joined in one go, and each slice is
    written while the next is joined.

    Args:
        orders: The orders, as tables of one schema in order (as `Orders.tables` reads them):
            regrouped here into slices of `slice_rows`; at least one table, if empty.
        join: The point-in-time join of an orders frame (`FeastResource.historical_features`),
            returning the rows with the frame's columns beside the features.

    Raises:
        ValueError: when a later slice's column cannot take the type the first slice gave it
            (a feature that fits its declared type in one slice and not in another), naming
            the column and the rows.
        OSError: when a slice cannot be written, as the writer raised it; the file is closed
            and left to the caller, which writes to a staged path.
    """
    writer, target = None, None
    rows = missing = labelled = 0
    label_total = 0.0
    # Each slice is written on a thread of its own while the next is read and joined: the
    # join leaves part of the two cores idle, and the write (a fifth of the step at 100M
    # orders) fills it. One slice is written at a time, so at most two are held.
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="training-table-writer")
    writing: Future | None = None
    try:
        start = 0
        for orders_slice in _regrouped(orders, slice_rows):
            frame = orders_slice.to_pandas()
            del orders_slice
            table = as_training_table(join(with_order_position(frame, start)), schema)
            del frame
            if writer is None:
                target = table.schema
                writer = pq.ParquetWriter(str(path), target, **LARGE_TABLE_OPTIONS)
            elif table.schema != target:
                table = _as_schema(table, target, start)
            if writing is not None:
                writing.result()
            writing = background.submit(_write_slice, writer, table)
            start += table.num_rows
            rows += table.num_rows
            missing += rows_without_features(table, schema.feature_names)
            if LABEL in table.column_names:
                labels = table.column(LABEL).cast(pa.float64())
                labelled += len(labels) - labels.null_count
                label_total += pc.sum(labels).as_py() or 0.0
            del table
        if writing is not None:
            writing.result()
    finally:
        background.shutdown(wait=True)
        if writer is not None:
            writer.close()
    return TableFigures(rows, missing, label_total / labelled if labelled else 0.0)


def _write_slice(writer: pq.ParquetWriter, table: pa.Table) -> None:
    writer.write_table(table)
    # What the write and the slices before it freed, kept by the allocators: back to the
    # system before the next slice is joined.
    release_memory()


def _regrouped(tables: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """`tables` as tables of `rows` rows each (the last may hold fewer); the first input
    table, empty, when no rows come at all."""
    pending: list[pa.Table] = []
    held, first, yielded = 0, None, False
    for table in tables:
        first = table if first is None else first
        while table.num_rows:
            part = table.slice(0, rows - held)
            pending.append(part)
            held += part.num_rows
            table = table.slice(part.num_rows)
            if held == rows:
                yield pa.concat_tables(pending)
                pending, held, yielded = [], 0, True
    if pending:
        yield pa.concat_tables(pending)
    elif not yielded and first is not None:
        yield first


def _as_schema(table: pa.Table, target: pa.Schema, start: int) -> pa.Table:
    try:
        return table.select(target.names).cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as error:
        found = {f.name: str(f.type) for f in table.schema}
        differs = {
            f.name: {"first slice": str(f.type), "this slice": found.get(f.name)}
            for f in target
            if found.get(f.name) != str(f.type)
        }
        raise ValueError(
            f"orders from row {start} join to columns of other types than the first "
            f"slice's: {differs}; join the orders in one slice (feast.join_slice_rows above "
            f"the order count) so that the gates judge the table as a whole ({error})"
        ) from error


@timed("as_training_table")
def as_training_table(joined: pa.Table, schema: TrainingSchema) -> pa.Table:
    """The joined table back in input order, without the position column.

    Columns the schema knows come first, in schema order. Anything else is kept after them,
    so that the schema gates report it instead of it vanishing here. Event and feature times
    become UTC nanosecond timestamps; naive times are UTC, as Feast reads them. The offline
    store's provenance columns (one pair per feature view) become FEATURE_TIMESTAMP and
    FEATURE_CREATED: the latest over the views, which is what a point-in-time audit needs.
    Columns are re-typed or reordered without copying the others.

    Args:
        schema: The columns in order and the features' types as the feature views declare
            them. Each feature is cast to its type when every value fits (float64 to float32,
            int64 or whole floats to int32); one that does not fit is left as found, for the
            dtype gate to name.
    """
    positions = joined.column(ORDER_POSITION)
    if len(positions) > 1 and not _is_increasing(positions):
        joined = joined.take(pc.sort_indices(positions))
    for kind, column in (("timestamp", FEATURE_TIMESTAMP), ("created", FEATURE_CREATED)):
        provenance = [
            joined.column(name)
            for name in joined.column_names
            if name.startswith(PROVENANCE_PREFIX) and name.endswith(f"__{kind}")
        ]
        if provenance:
            # Arrow compares zoned times only as their epoch integers.
            epochs = [values.cast(UTC_NS).cast(pa.int64()) for values in provenance]
            latest = epochs[0]
            for other in epochs[1:]:
                latest = pc.max_element_wise(latest, other)
            joined = joined.append_column(column, latest.cast(UTC_NS))
    for feature in schema.features:
        name, declared = feature.name, pa.from_numpy_dtype(np.dtype(feature.dtype))
        if name in joined.column_names and joined.schema.field(name).type != declared:
            index = joined.schema.get_field_index(name)
            joined = joined.set_column(index, name, _cast_if_fits(joined.column(index), declared))
    if EVENT_TIMESTAMP in joined.column_names and pa.types.is_timestamp(
        joined.schema.field(EVENT_TIMESTAMP).type
    ):
        index = joined.schema.get_field_index(EVENT_TIMESTAMP)
        joined = joined.set_column(index, EVENT_TIMESTAMP, joined.column(index).cast(UTC_NS))
    names = joined.column_names
    columns = schema.columns
    known = [column for column in columns if column in names]
    extra = [
        c
        for c in names
        if c not in columns and c != ORDER_POSITION and not c.startswith(PROVENANCE_PREFIX)
    ]
    # Pandas metadata from an earlier frame would restore that frame's zones and dtypes.
    return joined.select(known + extra).replace_schema_metadata(None)


def _cast_if_fits(column: pa.ChunkedArray, declared: pa.DataType) -> pa.ChunkedArray:
    """`column` as `declared` when no value changes on the way, else as it was."""
    # Arrow's safe cast refuses lost integers and fractions but lets floats narrow.
    try:
        return column.cast(declared, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column


def rows_without_features(table: pa.Table, features: tuple[str, ...]) -> int:
    """Rows in which every one of `features` the table has is null or NaN: orders no feature
    row matched."""
    present = [table.column(name) for name in features if name in table.column_names]
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
