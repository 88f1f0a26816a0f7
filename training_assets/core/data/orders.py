"""Reading the orders (label) files users provide: one parquet file or a folder of them."""

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    LABEL,
    ORDERS_DTYPES,
)
from training_assets.core.timing import timed


class OrdersError(ValueError):
    """The orders location or its content does not fit the orders schema."""


def order_files(location: Path) -> list[Path]:
    """The parquet files at `location`: the file itself, or a folder's `*.parquet` files by name.

    Hidden files and files with a temporary suffix are skipped, so that a file still being
    copied in under a temporary name is never read half-written.
    """
    if location.is_file():
        return [location]
    if location.is_dir():
        return sorted(
            p
            for p in location.glob("*.parquet")
            if p.is_file() and not p.name.startswith((".", "_"))
        )
    raise OrdersError(f"orders location {location} does not exist")


def count_orders(location: Path) -> int:
    """The number of order rows at `location`, read from parquet footers only."""
    return sum(pq.ParquetFile(path).metadata.num_rows for path in order_files(location))


@timed("orders read")
def read_orders(location: Path) -> pd.DataFrame:
    """Read and validate the orders at `location` into the orders schema.

    Raises:
        OrdersError: naming the file and column that is missing, mistyped or null.
    """
    files = order_files(location)
    if not files:
        raise OrdersError(f"orders folder {location} holds no *.parquet files")
    tables = [_validated(pq.read_table(path), source=str(path)) for path in files]
    # Labels are passed through as found, so files may disagree on their type; "permissive"
    # gives them a common one (int and float make float), as pandas would.
    table = pa.concat_tables(tables, promote_options="permissive")
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table, tables
    # Arrow's allocator keeps the decompression buffers for reuse; the join that follows
    # allocates through DuckDB's, so hand them back now rather than carry them through it.
    pa.default_memory_pool().release_unused()
    return frame


def _validated(table: pa.Table, source: str) -> pa.Table:
    """The orders columns of `table`, checked and cast: UTC nanosecond times, int64 keys."""
    missing = [column for column in ORDERS_DTYPES if column not in table.column_names]
    if missing:
        raise OrdersError(
            f"{source}: missing column(s) {missing}; expected {list(ORDERS_DTYPES)}, "
            f"found {table.column_names}"
        )
    table = table.select(list(ORDERS_DTYPES)).replace_schema_metadata(None)
    # The join needs keys and times; the label is passed through as found, so that the
    # `labels_are_binary` gate reports bad labels with evidence instead of a read error.
    nulls = {
        column: table.column(column).null_count
        for column in (EVENT_TIMESTAMP, ENTITY_KEY)
        if table.column(column).null_count
    }
    if nulls:
        raise OrdersError(f"{source}: null values in {nulls}")
    times = table.schema.field(EVENT_TIMESTAMP).type
    if not pa.types.is_timestamp(times):
        raise OrdersError(
            f"{source}: column {EVENT_TIMESTAMP!r} must be a timestamp, found {times}"
        )
    keys = table.schema.field(ENTITY_KEY).type
    if not pa.types.is_integer(keys):
        raise OrdersError(f"{source}: column {ENTITY_KEY!r} must be integer, found {keys}")
    try:
        # Arrow keeps times as UTC instants, so naive times cast to UTC keep their values.
        event_times = table.column(EVENT_TIMESTAMP).cast(pa.timestamp("ns", tz="UTC"))
        entity_keys = table.column(ENTITY_KEY).cast(pa.int64())
    except pa.ArrowInvalid as error:
        raise OrdersError(f"{source}: {error}") from error
    return pa.table(
        {EVENT_TIMESTAMP: event_times, ENTITY_KEY: entity_keys, LABEL: table.column(LABEL)}
    )
