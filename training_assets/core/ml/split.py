"""The train/test split of the training table: by a hash of each order's key, by a seeded
shuffle, or by time."""

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, Field
from sklearn.model_selection import train_test_split

from training_assets.core.data import locations
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL

# The hash split's resolution: an order is held out when its hash, reduced to this many
# buckets, falls below test_size of them.
_BUCKETS = 1 << 32
_HASH_SLICE = 1 << 20


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
        "side; about test_size of the rows are held out. 'random': seeded shuffle of row "
        "positions, exactly test_size held out. 'time': train on the earliest orders, test on "
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
    `features`.

    Args:
        frame: The training table.
        features: The model's inputs: the columns of X.
        test_size: Share of rows held out for the test split, in (0, 1).
        random_seed: Seed of the hash or of the shuffle.
        strategy: "hash" holds out the orders whose seeded key hash (driver and event time)
            falls in the lowest `test_size` share of hash values: deterministic, stable when
            orders are added, and about `test_size` of the rows. "random" shuffles with the
            seed; "time" trains on the earliest orders and tests on the latest `test_size`
            share, as a model is used on orders after its training.

    Raises:
        ValueError: on a bad `test_size` or `strategy`, or if the splits would share a row.
    """
    return _split(
        lambda name: frame[name],
        list(frame.columns),
        len(frame),
        frame.index,
        features,
        test_size,
        random_seed,
        strategy,
    )


def split_file(
    path: str,
    features: tuple[str, ...],
    test_size: float,
    random_seed: int,
    strategy: str = "hash",
) -> Split:
    """`split_frame` of the training table's parquet file (a path or fsspec URL), read a
    column at a time: the step holds the split's outputs and one column, never the table
    beside them. Columns load as they would in a frame read from the file (an integer column
    with nulls as float64); each output's rows are numbered from 0, not by their row in the
    file (an index of 100M row numbers would cost 0.8 GB and is not stored)."""
    location = locations.resolve(path)
    metadata = locations.parquet_metadata(location)
    columns = list(metadata.schema.to_arrow_schema().names)

    def column(name: str) -> pd.Series:
        values = locations.read_parquet(location, columns=[name]).column(0)
        series = pd.Series(values.to_pandas(), name=name)
        del values
        # The read buffers, freed but kept by Arrow's allocator: given back before the next.
        pa.default_memory_pool().release_unused()
        return series

    return _split(
        column, columns, metadata.num_rows, None, features, test_size, random_seed, strategy
    )


def _split(
    column: Callable[[str], pd.Series],
    columns: list[str],
    count: int,
    index: pd.Index | None,
    features: tuple[str, ...],
    test_size: float,
    random_seed: int,
    strategy: str,
) -> Split:
    """The split of a table given as its column names, a reader of one column, its row count
    and its index: the outputs keep the index's labels, or number their rows from 0 when
    there is none (a file's rows, which the IO manager stores without an index anyway)."""
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), found {test_size}")
    # Row positions are split, and each output gathers only its own columns: no copy of the
    # whole table on the way.
    if strategy == "hash":
        in_test = held_out_by_hash(
            column(ENTITY_KEY).to_numpy(), column(EVENT_TIMESTAMP), test_size, random_seed
        )
        train_rows, test_rows = np.flatnonzero(~in_test), np.flatnonzero(in_test)
        if count and not (len(train_rows) and len(test_rows)):
            side = "test" if len(test_rows) == 0 else "train"
            raise ValueError(
                f"the hash split left the {side} side empty for {count} rows at test_size "
                f"{test_size}; use strategy 'random' for a table this small"
            )
    elif strategy == "random":
        train_rows, test_rows = train_test_split(
            np.arange(count), test_size=test_size, random_state=random_seed
        )
    elif strategy == "time":
        # On the times' integers: a zoned column's to_numpy() is an array of objects.
        order = np.argsort(_epoch_ns(column(EVENT_TIMESTAMP)), kind="stable")
        cut = count - int(np.ceil(count * test_size))
        train_rows, test_rows = order[:cut], order[cut:]
    else:
        raise ValueError(f"strategy must be 'hash', 'random' or 'time', found {strategy!r}")
    in_test = np.zeros(count, dtype=bool)
    in_test[test_rows] = True
    shared = int(in_test[train_rows].sum())
    if shared:
        raise ValueError(f"train and test splits share {shared} rows")
    others = [name for name in columns if name not in (*features, LABEL)]
    if index is None:
        train_index, test_index = pd.RangeIndex(len(train_rows)), pd.RangeIndex(len(test_rows))
    else:
        train_index, test_index = index.take(train_rows), index.take(test_rows)
    train_x, test_x, test_keys = {}, {}, {}
    for name in list(features):
        values = column(name).array
        train_x[name], test_x[name] = values.take(train_rows), values.take(test_rows)
    labels = column(LABEL).array
    for name in others:
        test_keys[name] = column(name).array.take(test_rows)
    return Split(
        train_x=model_inputs(pd.DataFrame(train_x, index=train_index)),
        train_y=pd.Series(labels.take(train_rows), index=train_index, name=LABEL),
        test_x=model_inputs(pd.DataFrame(test_x, index=test_index)),
        test_y=pd.Series(labels.take(test_rows), index=test_index, name=LABEL),
        test_keys=pd.DataFrame(test_keys, index=test_index, columns=others),
    )


def held_out_by_hash(
    driver_ids: np.ndarray, event_times: pd.Series, test_size: float, seed: int
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


def _epoch_ns(times: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch of a time column, naive times read as UTC."""
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
