"""ISO 8601 text read as UTC instants (feast_asof.times): an offset is honoured, a value without
one is UTC, whatever its neighbours.

pandas' `to_datetime(format="ISO8601", utc=True)` reads a naive value in the offset of the value
before it; these tests compare the reader against parsing each value on its own."""

from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feast_asof import times

MIXED = [
    "2025-01-01T10:00:00+01:00",
    "2025-01-01 10:00:00",
    "2025-01-01T10:00:00Z",
    "2025-01-01 10:00:00",
    "2025-01-01T10:00:00-05:00",
    "2025-01-01",
]
# Each value alone: the naive ones are UTC, not the zone of the value before them.
MIXED_UTC = [
    pd.Timestamp("2025-01-01 09:00", tz="UTC"),
    pd.Timestamp("2025-01-01 10:00", tz="UTC"),
    pd.Timestamp("2025-01-01 10:00", tz="UTC"),
    pd.Timestamp("2025-01-01 10:00", tz="UTC"),
    pd.Timestamp("2025-01-01 15:00", tz="UTC"),
    pd.Timestamp("2025-01-01 00:00", tz="UTC"),
]


def read(values: list) -> list:
    return list(times.utc_instants(pa.array(values, pa.string())).to_pandas())


def test_pandas_alone_shifts_a_naive_value_after_an_offset():
    """The fault this module exists for; if pandas ever stops doing it, this says so."""
    parsed = pd.to_datetime(pd.Series(MIXED[:2]), utc=True, format="ISO8601")
    assert parsed[1] == pd.Timestamp("2025-01-01 09:00", tz="UTC")


def test_mixed_offsets_and_naive_values_are_each_read_alone():
    assert read(MIXED) == MIXED_UTC


def test_nulls_stay_null_and_the_rest_keep_their_place():
    assert read([None, MIXED[0], None, MIXED[1]]) == [pd.NaT, MIXED_UTC[0], pd.NaT, MIXED_UTC[1]]


def test_a_value_that_is_no_time_is_named():
    with pytest.raises(times.TimeParseError) as raised:
        read([MIXED[0], MIXED[1], "01/02/2025 10:00"])
    assert raised.value.value == "01/02/2025 10:00"


_moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31))
_offsets = st.one_of(
    st.none(),
    st.just("Z"),
    st.tuples(st.sampled_from("+-"), st.integers(0, 14), st.sampled_from([0, 30, 45])),
)


@st.composite
def iso_text(draw) -> str:
    """An ISO 8601 time as files hold them: `T` or a space, seconds or not, a fraction of any
    length or none, and an offset written as `Z`, `+hh:mm`, `+hhmm` or `+hh`, or none."""
    moment = draw(_moments)
    separator = draw(st.sampled_from(["T", " "]))
    clock = draw(st.sampled_from(["%H:%M", "%H:%M:%S", "%H:%M:%S.%f"]))
    text = moment.strftime(f"%Y-%m-%d{separator}{clock}")
    if clock.endswith("%f"):
        text = text[: len(text) - draw(st.integers(0, 5))]
    offset = draw(_offsets)
    if offset == "Z":
        return text + "Z"
    if offset is not None:
        sign, hours, minutes = offset
        style = draw(st.sampled_from(["{:02d}:{:02d}", "{:02d}{:02d}", "{:02d}"]))
        if style == "{:02d}" and minutes:
            style = "{:02d}:{:02d}"
        return text + sign + style.format(hours, minutes)
    return text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(iso_text(), st.none()), min_size=1, max_size=12))
def test_the_reader_agrees_with_each_value_parsed_alone(values):
    expected = [pd.NaT if value is None else times.parse_one(value) for value in values]
    assert read(values) == expected
