"""The train/test split of the training table: by a hash of each order's key, by a seeded
random draw, or by time."""

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field
from sklearn.model_selection import train_test_split

from training_assets.core.data import locations, storage
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL

# The hash split's resolution: an order is held out when its hash, reduced to this many
# buckets, falls below test_size of them.
_BUCKETS = 1 << 32
_HASH_SLICE = 1 << 20
# Rows of the training table a file split reads and writes at a time.
_BATCH_ROWS = 1 << 20


class SplitSettings(BaseModel):
    """How the training table is split into train and test rows."""

    test_size: float = Field(default=0.2, gt=0, lt=1, description="Share of rows held out.")
    random_seed: int = Field(
        default=17, description="Seed of the hash (strategy 'hash') or of the shuffle ('random')."
    )
    strategy: Literal["hash", "random", "time"] = Field(
        default="hash",
        description="'hash': an order is held out by a seeded hash of its driver and event "
        "time, so it stays on its side when new orders arrive and repeated orders share a "
        "side; about test_size of the rows are held out. 'random': a seeded random "
        "test_size of the rows held out. 'time': train on the earliest orders, test on "
        "the latest test_size share.",
    )


class Split(NamedTuple):
    train_x: pd.DataFrame
    train_y: pd.Series
    test_x: pd.DataFrame
    test_y: pd.Series
    # The test rows' other columns (keys, feature timestamp), for slicing the evaluation.
    test_keys: pd.DataFrame


def split_frame(
    frame: pd.DataFrame,
    features: tuple[str, ...],
    test_size: float,
    random_seed: int,
    strategy: str = "hash",
) -> Split:
    """A train/test split of a frame with only the feature columns in X, in the order of
    `features`; each side keeps the frame's row order and index labels.

    Args:
        frame: The training table.
        features: The model's inputs: the columns of X.
        test_size: Share of rows held out for the test split, in (0, 1).
        random_seed: Seed of the hash or of the shuffle.
        strategy: "hash" holds out the orders whose seeded key hash (driver and event time)
            falls in the lowest `test_size` share of hash values: deterministic, stable when
            orders are added, and about `test_size` of the rows. "random" holds out a seeded
            random `test_size` of the rows; "time" trains on the earliest orders and tests on
            the latest `test_size` share, as a model is used on orders after its training.

    Raises:
        ValueError: on a bad `test_size` or `strategy`, or when a side would be empty.
    """
    _check(test_size, strategy)
    in_test = held_out(frame.__getitem__, len(frame), test_size, random_seed, strategy)
    if in_test is None:
        in_test = held_out_by_hash(
            frame[ENTITY_KEY].to_numpy(), frame[EVENT_TIMESTAMP], test_size, random_seed
        )
    _check_sides(len(frame), int(in_test.sum()), test_size)
    train, test = frame[~in_test], frame[in_test]
    others = [name for name in frame.columns if name not in (*features, LABEL)]
    return Split(
        train_x=model_inputs(train[list(features)]),
        train_y=train[LABEL],
        test_x=model_inputs(test[list(features)]),
        test_y=test[LABEL],
        test_keys=test[others],
    )


def split_file(
    path: str,
    features: tuple[str, ...],
    test_size: float,
    random_seed: int,
    strategy: str,
    targets: Mapping[str, Path],
    batch_rows: int = _BATCH_ROWS,
) -> dict[str, int]:
    """`split_frame` of the training table's parquet file (a path or fsspec URL), written as
    the split's five outputs (`Split`'s fields) to the local parquet files `targets` names.

    The table is read and written `batch_rows` rows at a time, so the step holds one batch
    whatever the table's size; the "random" and "time" strategies also hold one verdict byte
    per row, decided before the first batch. Each output is stored as the parquet IO manager
    stores the frame or series `split_frame` gives (integer features as float64, the labels
    as a series), and loads back as that frame numbered from 0.

    Returns:
        The row count of each output.

    Raises:
        ValueError: on a bad `test_size` or `strategy`, a feature or the label missing from
            the file (named), or when a side would be empty.
    """
    _check(test_size, strategy)
    location = locations.resolve(path)
    metadata = locations.parquet_metadata(location)
    schema = metadata.schema.to_arrow_schema().remove_metadata()
    missing = [name for name in (*features, LABEL) if name not in schema.names]
    if missing:
        raise ValueError(f"{path}: the training table lacks column(s) {missing} to split")
    count = metadata.num_rows

    def column(name: str) -> pa.ChunkedArray:
        return locations.read_parquet(location, columns=[name]).column(0)

    in_test = held_out(column, count, test_size, random_seed, strategy)
    seeding = (test_size, random_seed)  # of the "hash" strategy, decided batch by batch
    layouts = _output_layouts(schema, features)
    writers = {
        name: pq.ParquetWriter(str(targets[name]), layout, **storage.LARGE_TABLE_OPTIONS)
        for name, layout in layouts.items()
    }
    rows = dict.fromkeys(layouts, 0)
    start = 0
    # The five outputs are written on two threads, while the next batch is read and split:
    # a write releases the GIL, and the outputs are files of their own. A batch's writes
    # finish before the next batch's start, so each file gets its batches in order.
    background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="split-writer")
    writing: list[Future] = []
    try:
        for batch in locations.parquet_batches(location, batch_rows):
            table = pa.Table.from_batches([batch]).replace_schema_metadata(None)
            if in_test is None:
                mask = held_out_by_hash(
                    table.column(ENTITY_KEY).to_numpy(), table.column(EVENT_TIMESTAMP), *seeding
                )
            else:
                mask = in_test[start : start + table.num_rows]
            start += table.num_rows
            parts = _parts(table, mask, layouts)
            del table
            _finish(writing)
            writing = [
                background.submit(writers[name].write_table, part) for name, part in parts.items()
            ]
            for name, part in parts.items():
                rows[name] += part.num_rows
            del parts
        _finish(writing)
    finally:
        background.shutdown(wait=True)
        for writer in writers.values():
            writer.close()
        storage.release_memory()
    _check_sides(count, rows["test_y"], test_size)
    return rows


def _parts(table: pa.Table, in_test, layouts: dict[str, pa.Schema]) -> dict[str, pa.Table]:
    """The rows of `table` for each output, `in_test` choosing the side, in its layout."""
    sides = {"train": table.filter(~in_test), "test": table.filter(in_test)}
    return {
        name: sides[name.split("_", 1)[0]].select(layout.names).cast(layout)
        for name, layout in layouts.items()
    }


def _finish(writes: list[Future]) -> None:
    """Wait for every write, then raise the first error among them."""
    wait(writes)
    for write in writes:
        write.result()


def _output_layouts(schema: pa.Schema, features: tuple[str, ...]) -> dict[str, pa.Schema]:
    """The schema of each output's file: the features (integers as float64, as
    `model_inputs` makes them), the labels as a series, the test rows' other columns."""
    inputs = pa.schema(
        [
            pa.field(name, pa.float64())
            if pa.types.is_integer(schema.field(name).type)
            else schema.field(name)
            for name in features
        ]
    )
    labels = pa.schema([schema.field(LABEL)], metadata={storage.SERIES_KEY: LABEL.encode()})
    others = pa.schema([field for field in schema if field.name not in (*features, LABEL)])
    return {
        "train_x": inputs,
        "train_y": labels,
        "test_x": inputs,
        "test_y": labels,
        "test_keys": others,
    }


def _check(test_size: float, strategy: str) -> None:
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), found {test_size}")
    if strategy not in ("hash", "random", "time"):
        raise ValueError(f"strategy must be 'hash', 'random' or 'time', found {strategy!r}")


def _check_sides(count: int, held: int, test_size: float) -> None:
    """A split that leaves a side without rows is refused, naming the side."""
    if count and held in (0, count):
        side = "test" if held == 0 else "train"
        raise ValueError(
            f"the split left the {side} side empty for {count} rows at test_size "
            f"{test_size}; use strategy 'random' for a table this small"
        )


def held_out(
    column: Callable[[str], "pd.Series | pa.ChunkedArray"],
    count: int,
    test_size: float,
    random_seed: int,
    strategy: str,
) -> np.ndarray | None:
    """Whether each of `count` rows is held out, for the strategies that decide on the whole
    table ("random", "time"), given a reader of one column; None for "hash", which decides
    on each order alone (`held_out_by_hash`)."""
    if strategy == "hash":
        return None
    in_test = np.zeros(count, dtype=bool)
    if strategy == "random":
        _, test_rows = train_test_split(
            np.arange(count), test_size=test_size, random_state=random_seed
        )
        in_test[test_rows] = True
    else:
        # On the times' integers: a zoned column's to_numpy() is an array of objects.
        order = np.argsort(_epoch_ns(column(EVENT_TIMESTAMP)), kind="stable")
        in_test[order[count - int(np.ceil(count * test_size)) :]] = True
    return in_test


def held_out_by_hash(
    driver_ids: np.ndarray, event_times: "pd.Series | pa.ChunkedArray", test_size: float, seed: int
) -> np.ndarray:
    """Whether each order is held out: its (seed, driver, event time) hash falls in the lowest
    `test_size` share of hash values.

    The verdict on an order depends on that order alone, so adding orders never moves one
    across, and a repeated order lands on the side of its twin. The hash is SplitMix64's
    finalizer, written out rather than taken from a library whose hash may change between
    versions: the same order must fall on the same side next year.
    """
    times = _epoch_ns(event_times)
    drivers = np.asarray(driver_ids)
    salt = _mix(np.full(1, seed, np.uint64))
    limit = np.uint64(int(test_size * _BUCKETS))
    held_out = np.empty(len(times), dtype=bool)
    # In slices, so that the hash's temporaries stay a few MiB whatever the table's size.
    for start in range(0, len(times), _HASH_SLICE):
        stop = start + _HASH_SLICE
        mixed = _mix(drivers[start:stop].astype(np.uint64) ^ salt)
        mixed = _mix(mixed ^ times[start:stop].astype(np.uint64))
        held_out[start:stop] = (mixed >> np.uint64(32)) < limit
    return held_out


def _epoch_ns(times: "pd.Series | pa.ChunkedArray") -> np.ndarray:
    """UTC nanoseconds since the epoch of a time column, naive times read as UTC.

    An Arrow timestamp column (a file's) is cast, not parsed: Arrow keeps instants as UTC
    integers, and a naive time cast to UTC keeps its value.
    """
    if isinstance(times, pa.ChunkedArray | pa.Array) and pa.types.is_timestamp(times.type):
        return times.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_numpy()
    if isinstance(times, pa.ChunkedArray | pa.Array):
        times = times.to_pandas()
    return pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ns").asi8


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: each input bit flips about half the output bits."""
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def model_inputs(features: pd.DataFrame) -> pd.DataFrame:
    """Model inputs with integer features as float64, as a table with missing values holds them.

    The model's signature then does not depend on whether some order lacked features: an
    integer column is int32 when every order has stats and float64 when one has none.
    """
    integers = [c for c in features.columns if pd.api.types.is_integer_dtype(features[c])]
    return features.astype({column: "float64" for column in integers}) if integers else features
