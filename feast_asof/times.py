"""ISO 8601 text read as UTC instants, each value on its own.

A time without an offset is UTC, as Feast reads naive times. That has to hold for every value
whatever its neighbours: pandas' `to_datetime(format="ISO8601", utc=True)` reads a naive value
in the offset of the value before it, so a column that mixes `2025-01-01T10:00:00+01:00` and
`2025-01-01 10:00:00` moved the second by an hour, silently. Here the values with an offset and
those without are told apart first and parsed apart, so no value can borrow another's zone.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

UTC_NS = pa.timestamp("ns", tz="UTC")

# A time of day followed by a zone designator: `Z`, `+01`, `+0100` or `+01:00`. The time of day
# is required, so that a date's own `-01` is never read as an offset.
_WITH_OFFSET = r"[Tt ]\d[\d:.,]*\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


# The times a nanosecond timestamp holds, which every reader here returns.
TIME_RANGE = f"{pd.Timestamp.min.ceil('s'):%Y-%m-%d} to {pd.Timestamp.max.floor('s'):%Y-%m-%d}"


class TimeParseError(ValueError):
    """A value that is no ISO 8601 time, or one outside `TIME_RANGE`; `value` is the first
    such value and `what` says which ("not an ISO 8601 timestamp", "outside ...")."""

    def __init__(self, value: object):
        self.value = value
        self.what = (
            f"outside the range of times a timestamp holds ({TIME_RANGE})"
            if _out_of_range(value)
            else "not an ISO 8601 timestamp"
        )
        super().__init__(f"{value!r} is {self.what}")


def _out_of_range(value: object) -> bool:
    """Whether `value` is an ISO 8601 time that only the range refuses (`9999-12-31`, a
    spreadsheet's "no end date")."""
    try:
        parse_one(value)
    except pd.errors.OutOfBoundsDatetime:
        return True
    except (ValueError, TypeError, OverflowError):
        return False
    return False


def utc_instants(values: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO 8601 strings as UTC instants (`timestamp[ns, UTC]`): a value with an offset is
    converted to UTC, a value without one is read as UTC. Nulls stay null.

    Raises:
        TimeParseError: naming the first value that is no ISO 8601 time.
    """
    if isinstance(values, pa.Array):
        values = pa.chunked_array([values])
    if pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    # All with offsets, or all without: Arrow's casts refuse a mix, so either one is exact.
    for target in (UTC_NS, pa.timestamp("ns")):
        try:
            return values.cast(target).cast(UTC_NS)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    with_offset = pc.fill_null(pc.match_substring_regex(values, _WITH_OFFSET), False)
    with_offset = with_offset.to_numpy(zero_copy_only=False)
    nanos = np.zeros(len(values), dtype=np.int64)
    missing = np.zeros(len(values), dtype=bool)
    for chosen in (with_offset, ~with_offset):
        rows = np.flatnonzero(chosen)
        if len(rows):
            group = values.take(pa.array(rows))
            parsed = _parse_group(group)
            nanos[rows] = parsed.fill_null(0).cast(pa.int64()).to_numpy()
            missing[rows] = parsed.is_null().to_numpy(zero_copy_only=False)
    return pa.chunked_array([pa.array(nanos, mask=missing).cast(UTC_NS)])


def _parse_group(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Values that all carry an offset, or all carry none, as UTC instants."""
    for target in (UTC_NS, pa.timestamp("ns")):
        try:
            return values.cast(target).cast(UTC_NS)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    # Forms Arrow does not read (`+01`, a comma for the decimal point, a lone hour): pandas.
    # With every value of one kind, its ISO 8601 parser has no neighbour's zone to lend.
    strings = values.to_pandas()
    try:
        parsed = pd.to_datetime(strings, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        raise TimeParseError(next(v for v in strings.dropna() if not parses(v))) from None
    return pa.chunked_array([pa.Array.from_pandas(parsed, type=UTC_NS)])


def parse_one(value: str) -> pd.Timestamp:
    """One ISO 8601 value alone, as a UTC timestamp (naive is UTC): the meaning every value of
    a column must keep when `utc_instants` reads it among others."""
    return pd.to_datetime([value], utc=True, format="ISO8601")[0]


def parses(value: object) -> bool:
    """Whether `value` alone is an ISO 8601 time (`parse_one` reads it)."""
    try:
        parse_one(value)
    except (ValueError, TypeError, OverflowError):
        return False
    return True
