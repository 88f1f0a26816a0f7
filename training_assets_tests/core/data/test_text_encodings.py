"""Orders and batch request files in the encodings spreadsheets and pandas write: UTF-16 with a
byte order mark (a spreadsheet's "Unicode text", tab-separated, CRLF), UTF-8 with and without
one, UTF-32, a legacy code page; UTF-16 without a mark is refused with the encoding named."""

from pathlib import Path

import pandas as pd
import pytest

from training_assets.core.data.locations import resolve
from training_assets.core.data.orders import (
    OrdersError,
    count_orders,
    read_orders,
    read_requests,
)

FRAME = pd.DataFrame(
    {
        "event_timestamp": ["2021-04-16 20:29:28+00:00", "2021-04-16 21:29:28+02:00"],
        "driver_id": [1001, 1002],
        "trip_completed": [1, 0],
        # A column the pipeline leaves out, with characters beyond ASCII.
        "note": ["café", "naïve — ok"],
    }
)
EXPECTED_TIMES = pd.to_datetime(FRAME["event_timestamp"], utc=True, format="ISO8601")


def written(folder: Path, name: str, encoding: str, **options) -> Path:
    path = folder / name
    FRAME.to_csv(path, sep=options.pop("sep", "\t"), encoding=encoding, index=False, **options)
    return path


@pytest.mark.parametrize(
    ("encoding", "options"),
    [
        ("utf-16", {}),  # pandas' UTF-16: little-endian with a byte order mark
        ("utf-16", {"lineterminator": "\r\n"}),  # a spreadsheet's "Unicode text"
        ("utf-16", {"sep": ","}),
        ("utf-8-sig", {}),
        ("utf-8", {"sep": ";"}),
        ("utf-32", {}),
    ],
)
def test_orders_in_each_marked_encoding_read_as_utf8_ones(tmp_path, encoding, options):
    path = resolve(written(tmp_path, "orders.tsv", encoding, **options))

    frame = read_orders(path)

    assert list(frame["driver_id"]) == [1001, 1002]
    assert list(frame["trip_completed"]) == [1, 0]
    assert list(frame["event_timestamp"]) == list(EXPECTED_TIMES)
    assert count_orders(path) == 2


def test_a_request_file_exported_as_unicode_text_is_read(tmp_path):
    path = written(tmp_path, "requests.tsv", "utf-16", lineterminator="\r\n")

    frame = read_requests(resolve(path))

    assert list(frame["driver_id"]) == [1001, 1002]
    assert list(frame["event_timestamp"]) == list(EXPECTED_TIMES)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_refused_naming_the_encoding(tmp_path, encoding):
    path = written(tmp_path, "orders.tsv", encoding)

    with pytest.raises(OrdersError, match="UTF-16 or UTF-32 text without a byte order mark") as e:
        read_orders(resolve(path))

    assert str(e.value).startswith(f"{path}: ")
    assert "save the file as UTF-8" in str(e.value)


def test_a_legacy_code_page_reads_since_the_orders_columns_are_ascii(tmp_path):
    # A spreadsheet's "CSV" in Windows-1252: the bytes beyond ASCII are in a column left out.
    path = written(tmp_path, "orders.csv", "cp1252", sep=",")

    frame = read_orders(resolve(path))

    assert list(frame["driver_id"]) == [1001, 1002]
    assert frame.attrs["ignored_columns"] == ["note"]
