"""Reading the orders (label) files users provide: one parquet file or a folder of them."""

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from training_assets.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL, ORDERS_DTYPES


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


def content_digest(files: list[Path]) -> str:
    """A SHA-256 over the files' names and bytes: the data version of a set of files."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def count_orders(location: Path) -> int:
    """The number of order rows at `location`, read from parquet footers only."""
    return sum(pq.ParquetFile(path).metadata.num_rows for path in order_files(location))


def read_orders(location: Path) -> pd.DataFrame:
    """Read and validate the orders at `location` into the orders schema.

    Raises:
        OrdersError: naming the file and column that is missing, mistyped or null.
    """
    files = order_files(location)
    if not files:
        raise OrdersError(f"orders folder {location} holds no *.parquet files")
    frames = []
    for path in files:
        frame = pd.read_parquet(path, columns=None)
        frames.append(validate_orders(frame, source=str(path)))
    return pd.concat(frames, ignore_index=True)


def validate_orders(frame: pd.DataFrame, source: str = "orders") -> pd.DataFrame:
    """Check one orders frame against the schema and return it with canonical dtypes.

    Naive timestamps are taken to be UTC, as Feast takes them.
    """
    missing = [column for column in ORDERS_DTYPES if column not in frame.columns]
    if missing:
        raise OrdersError(
            f"{source}: missing column(s) {missing}; expected {list(ORDERS_DTYPES)}, "
            f"found {list(frame.columns)}"
        )
    frame = frame[list(ORDERS_DTYPES)]
    # The join needs keys and times; the label is passed through as found, so that the
    # `labels_are_binary` gate reports bad labels with evidence instead of a read error.
    nulls = {
        column: int(frame[column].isna().sum())
        for column in (EVENT_TIMESTAMP, ENTITY_KEY)
        if frame[column].isna().any()
    }
    if nulls:
        raise OrdersError(f"{source}: null values in {nulls}")

    timestamps = frame[EVENT_TIMESTAMP]
    if not pd.api.types.is_datetime64_any_dtype(timestamps):
        raise OrdersError(
            f"{source}: column {EVENT_TIMESTAMP!r} must be a timestamp, found {timestamps.dtype}"
        )
    if timestamps.dt.tz is None:
        timestamps = timestamps.dt.tz_localize("UTC")
    if not pd.api.types.is_integer_dtype(frame[ENTITY_KEY]):
        raise OrdersError(
            f"{source}: column {ENTITY_KEY!r} must be integer, found {frame[ENTITY_KEY].dtype}"
        )
    return pd.DataFrame(
        {
            EVENT_TIMESTAMP: timestamps.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"),
            ENTITY_KEY: frame[ENTITY_KEY].astype("int64"),
            LABEL: frame[LABEL],
        }
    )
