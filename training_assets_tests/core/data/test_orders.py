"""Unit tests for reading the orders (label) files in training_assets.core.data.orders."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training_assets.core.data.fingerprints import content_digest
from training_assets.core.data.orders import (
    IGNORED_COLUMNS,
    OrdersError,
    count_orders,
    list_orders,
    open_orders,
    order_files,
    read_orders,
    read_orders_table,
    read_requests,
)
from training_assets.core.data.snapshot import SnapshotChanged
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    LABEL,
    ORDERS_DTYPES,
)


def orders(driver_ids, start="2025-12-01 00:00", labels=None, tz="UTC") -> pd.DataFrame:
    n = len(driver_ids)
    return pd.DataFrame(
        {
            EVENT_TIMESTAMP: pd.date_range(start, periods=n, freq="min", tz=tz),
            ENTITY_KEY: np.asarray(driver_ids, dtype=np.int64),
            LABEL: np.asarray(
                labels if labels is not None else [i % 2 for i in range(n)], dtype=np.int64
            ),
        }
    )


def write(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {column: str(dtype) for column, dtype in frame.dtypes.items()}


# --- read_orders ---------------------------------------------------------------------------


def test_read_orders_single_file(tmp_path):
    frame = orders([1001, 1002, 1003], labels=[1, 0, 1])
    path = write(frame, tmp_path / "orders.parquet")

    result = read_orders(path)

    assert dtypes(result) == ORDERS_DTYPES
    assert list(result.columns) == [EVENT_TIMESTAMP, ENTITY_KEY, LABEL]
    assert list(result[ENTITY_KEY]) == [1001, 1002, 1003]
    assert list(result[LABEL]) == [1, 0, 1]
    assert list(result[EVENT_TIMESTAMP]) == list(frame[EVENT_TIMESTAMP])


def test_read_orders_folder_concatenates_in_file_name_order(tmp_path):
    # Written b first so that creation order and name order differ.
    write(orders([2001, 2002], start="2025-12-02"), tmp_path / "b.parquet")
    write(orders([1001, 1002, 1003], start="2025-12-01"), tmp_path / "a.parquet")

    result = read_orders(tmp_path)

    assert list(result[ENTITY_KEY]) == [1001, 1002, 1003, 2001, 2002]
    assert list(result.index) == [0, 1, 2, 3, 4]
    assert dtypes(result) == ORDERS_DTYPES
    assert [p.name for p in order_files(tmp_path)] == ["a.parquet", "b.parquet"]


@pytest.mark.parametrize("name", [".x.parquet", "_tmp.parquet", "x.parquet.tmp"])
def test_read_orders_ignores_hidden_and_temporary_files(tmp_path, name):
    write(orders([1001, 1002]), tmp_path / "a.parquet")
    write(orders([9999]), tmp_path / name)

    result = read_orders(tmp_path)

    assert list(result[ENTITY_KEY]) == [1001, 1002]
    assert [p.name for p in order_files(tmp_path)] == ["a.parquet"]
    assert count_orders(tmp_path) == 2


def test_read_orders_ignores_half_written_temporary_file(tmp_path):
    write(orders([1001]), tmp_path / "a.parquet")
    (tmp_path / ".b.parquet.tmp").write_bytes(b"PAR1 not finished")
    (tmp_path / "_c.parquet").write_bytes(b"PAR1 not finished")

    assert list(read_orders(tmp_path)[ENTITY_KEY]) == [1001]


@pytest.mark.parametrize("column", [EVENT_TIMESTAMP, ENTITY_KEY, LABEL])
def test_read_orders_missing_column_names_the_column(tmp_path, column):
    path = write(orders([1001, 1002]).drop(columns=column), tmp_path / "orders.parquet")

    with pytest.raises(OrdersError) as raised:
        read_orders(path)

    message = str(raised.value)
    assert f"missing column(s) ['{column}']" in message
    assert str(path) in message


def test_read_orders_treats_naive_timestamps_as_utc(tmp_path):
    frame = orders([1001, 1002], start="2025-12-01 10:00", tz=None)
    assert frame[EVENT_TIMESTAMP].dt.tz is None
    path = write(frame, tmp_path / "orders.parquet")

    result = read_orders(path)

    assert str(result[EVENT_TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    assert list(result[EVENT_TIMESTAMP]) == [
        pd.Timestamp("2025-12-01 10:00", tz="UTC"),
        pd.Timestamp("2025-12-01 10:01", tz="UTC"),
    ]


def test_read_orders_converts_other_zones_to_utc(tmp_path):
    frame = orders([1001], start="2025-12-01 10:00", tz="Europe/Berlin")
    path = write(frame, tmp_path / "orders.parquet")

    result = read_orders(path)

    assert result[EVENT_TIMESTAMP].iloc[0] == pd.Timestamp("2025-12-01 09:00", tz="UTC")
    assert str(result[EVENT_TIMESTAMP].dtype) == "datetime64[ns, UTC]"


def test_read_orders_mixes_naive_and_aware_files(tmp_path):
    write(orders([1001], start="2025-12-01 10:00", tz=None), tmp_path / "a.parquet")
    write(orders([1002], start="2025-12-01 11:00", tz="UTC"), tmp_path / "b.parquet")

    result = read_orders(tmp_path)

    assert str(result[EVENT_TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    assert list(result[EVENT_TIMESTAMP]) == [
        pd.Timestamp("2025-12-01 10:00", tz="UTC"),
        pd.Timestamp("2025-12-01 11:00", tz="UTC"),
    ]


@pytest.mark.parametrize("bad_ids", [[1001.5, 1002.0], ["1001", "1002"]], ids=["float", "string"])
def test_read_orders_non_integer_driver_id_names_the_column(tmp_path, bad_ids):
    frame = orders([1, 2])
    frame[ENTITY_KEY] = bad_ids
    path = write(frame, tmp_path / "orders.parquet")

    with pytest.raises(OrdersError, match=f"column '{ENTITY_KEY}' must be integer"):
        read_orders(path)


def test_read_orders_non_timestamp_event_time_names_the_column(tmp_path):
    frame = orders([1001, 1002])
    frame[EVENT_TIMESTAMP] = [20251201, 20251202]
    path = write(frame, tmp_path / "orders.parquet")

    with pytest.raises(OrdersError, match=f"column '{EVENT_TIMESTAMP}' must be a timestamp"):
        read_orders(path)


def test_a_day_first_date_is_named_as_not_iso(tmp_path):
    frame = orders([1001, 1002])
    frame[EVENT_TIMESTAMP] = ["2025-12-01T10:00:00Z", "01/02/2025 10:00"]
    path = write(frame, tmp_path / "orders.parquet")

    with pytest.raises(OrdersError, match=r"not an ISO 8601 timestamp: '01/02/2025 10:00'"):
        read_orders(path)


def test_read_orders_unparseable_string_time_names_the_file_column_and_value(tmp_path):
    frame = orders([1001, 1002])
    frame[EVENT_TIMESTAMP] = ["2025-12-01 10:00:00+00:00", "yesterday"]
    path = write(frame, tmp_path / "orders.parquet")

    with pytest.raises(
        OrdersError, match=f"orders.parquet: column '{EVENT_TIMESTAMP}'.*'yesterday'"
    ):
        read_orders(path)


def test_read_orders_null_driver_id_raises_with_count(tmp_path):
    frame = orders([1001, 1002, 1003])
    frame[ENTITY_KEY] = pd.array([1001, None, None], dtype="Int64")
    path = write(frame, tmp_path / "orders.parquet")

    with pytest.raises(OrdersError, match=r"null values in \{'driver_id': 2\}"):
        read_orders(path)


def test_read_orders_passes_bad_labels_through(tmp_path):
    # Bad labels are the labels_are_binary gate's job, with evidence; reading keeps them.
    path = write(orders([1001, 1002], labels=[2, 1]), tmp_path / "orders.parquet")

    assert list(read_orders(path)[LABEL]) == [2, 1]


def test_read_orders_drops_extra_columns(tmp_path):
    path = write(orders([1001]).assign(city="x"), tmp_path / "orders.parquet")

    assert list(read_orders(path).columns) == [EVENT_TIMESTAMP, ENTITY_KEY, LABEL]


def test_read_orders_missing_location_raises(tmp_path):
    missing = tmp_path / "nowhere" / "orders.parquet"

    with pytest.raises(OrdersError, match="does not exist") as raised:
        read_orders(missing)
    assert str(missing) in str(raised.value)


def test_read_orders_empty_folder_raises(tmp_path):
    (tmp_path / "notes.txt").write_text("not orders")

    with pytest.raises(
        OrdersError, match=r"holds no orders files \(\*\.parquet, \*\.csv, \*\.tsv\)"
    ):
        read_orders(tmp_path)


def test_read_orders_returns_canonical_columns_and_dtypes(tmp_path):
    frame = orders([5, 6]).astype({ENTITY_KEY: "int32"})[[LABEL, ENTITY_KEY, EVENT_TIMESTAMP]]
    path = write(frame, tmp_path / "orders.parquet")

    result = read_orders(path)

    assert dtypes(result) == ORDERS_DTYPES
    assert list(result[ENTITY_KEY]) == [5, 6]


# --- count_orders --------------------------------------------------------------------------


def test_count_orders_matches_read_orders(tmp_path):
    write(orders(list(range(1001, 1008))), tmp_path / "a.parquet")
    write(orders(list(range(2001, 2005))), tmp_path / "b.parquet")
    write(orders([9999] * 3), tmp_path / ".hidden.parquet")

    assert count_orders(tmp_path) == 11
    assert count_orders(tmp_path) == len(read_orders(tmp_path))
    assert count_orders(tmp_path / "b.parquet") == 4


# --- files in the layouts users have ----------------------------------------------------------


def feast_orders(count: int = 40) -> pd.DataFrame:
    """Orders made by Feast's own generator, relabelled as the course's orders file is."""
    from feast.driver_test_data import create_orders_df

    np.random.seed(7)
    frame = create_orders_df(
        customers=[1, 2, 3],
        drivers=[1001, 1002, 1003],
        start_date=pd.Timestamp("2021-04-01", tz="UTC"),
        end_date=pd.Timestamp("2021-04-10", tz="UTC"),
        order_count=count,
    )
    return frame.rename(columns={"order_is_success": LABEL})


def test_course_tsv_with_offset_timestamps_is_read_as_utc(tmp_path):
    path = tmp_path / "driver_orders.csv"
    path.write_text(
        "event_timestamp\tdriver_id\ttrip_completed\n"
        "2021-04-16 20:29:28+00:00\t1001\t1\n"
        "2021-04-17 04:29:28+02:00\t1002\t0\n"
    )

    frame = read_orders(path)

    assert frame[EVENT_TIMESTAMP].tolist() == [
        pd.Timestamp("2021-04-16 20:29:28", tz="UTC"),
        pd.Timestamp("2021-04-17 02:29:28", tz="UTC"),
    ]
    assert frame[ENTITY_KEY].tolist() == [1001, 1002]
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == ORDERS_DTYPES
    assert count_orders(path) == 2


def test_feast_generated_orders_read_the_same_from_csv_parquet_and_a_mixed_folder(tmp_path):
    generated = feast_orders()
    generated.to_parquet(tmp_path / "one.parquet", index=False)
    generated.to_csv(tmp_path / "one.csv", index=False)
    folder = tmp_path / "folder"
    folder.mkdir()
    generated.iloc[:25].to_parquet(folder / "a.parquet", index=False)
    generated.iloc[25:].to_csv(folder / "b.tsv", sep="\t", index=False)
    (folder / "README.md").write_text("not orders")

    from_parquet = read_orders(tmp_path / "one.parquet")
    from_csv = read_orders(tmp_path / "one.csv")
    from_folder = read_orders(folder)

    pd.testing.assert_frame_equal(from_parquet, from_csv)
    pd.testing.assert_frame_equal(from_parquet, from_folder)
    # The generator's extra columns (order_id, customer_id) are left out, and listed.
    assert set(from_parquet.columns) == set(ORDERS_DTYPES)
    assert from_folder.attrs[IGNORED_COLUMNS] == ["customer_id", "order_id"]
    assert len(from_parquet) == count_orders(folder) == 40


def test_a_csv_without_the_label_names_the_file_and_the_column(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("event_timestamp,driver_id\n2021-04-16 20:29:28,1001\n")

    with pytest.raises(OrdersError, match=r"orders\.csv: missing column\(s\) \['trip_completed'\]"):
        read_orders(path)


def test_a_file_named_parquet_that_is_not_one_is_read_as_text_or_named(tmp_path):
    path = tmp_path / "orders.parquet"
    path.write_text("this is not a table\n\x00\x01")

    with pytest.raises(OrdersError, match=r"orders\.parquet"):
        read_orders(path)


# --- open_orders: checked from the footers, read in batches -----------------------------------


def test_feast_generated_orders_read_in_batches_equal_the_whole(tmp_path):
    generated = feast_orders(40)
    pq.write_table(
        pa.Table.from_pandas(generated, preserve_index=False),
        tmp_path / "a.parquet",
        row_group_size=7,
    )
    generated.iloc[:9].to_csv(tmp_path / "b.csv", index=False)

    found = open_orders(tmp_path)
    batches = list(found.tables(batch_rows=5))

    assert found.rows == 49
    assert found.ignored == ["customer_id", "order_id"]
    # The parquet file in batches of at most 5, the text file in one.
    assert [t.num_rows for t in batches] == [5] * 8 + [9]
    assert all(t.schema == found.schema for t in batches)
    whole, _ = read_orders_table(tmp_path)
    assert pa.concat_tables(batches).equals(whole)
    assert whole.num_rows == 49


def test_files_whose_labels_differ_in_type_read_as_the_common_type(tmp_path):
    write(orders([1001, 1002], labels=[1, 0]), tmp_path / "a.parquet")
    write(orders([1003]).assign(**{LABEL: [0.5]}), tmp_path / "b.parquet")

    found = open_orders(tmp_path)

    assert found.schema.field(LABEL).type == pa.float64()
    labels = pa.concat_tables(found.tables()).column(LABEL).to_pylist()
    assert labels == [1.0, 0.0, 0.5]


def test_a_file_whose_labels_are_words_is_named_with_the_first_word(tmp_path):
    write(orders([1001], labels=[1]), tmp_path / "a.parquet")
    write(orders([1002]).assign(**{LABEL: ["yes"]}), tmp_path / "b.parquet")

    with pytest.raises(
        OrdersError, match=r"b\.parquet: column 'trip_completed' must hold 0 or 1, found 'yes'"
    ):
        list(open_orders(tmp_path).tables())


def test_files_whose_labels_have_no_common_type_are_named(tmp_path):
    write(orders([1001], labels=[1]), tmp_path / "a.parquet")
    write(orders([1002]).assign(**{LABEL: [True]}), tmp_path / "b.parquet")

    with pytest.raises(OrdersError, match=r"no common type: .*a\.parquet.*int64.*b\.parquet"):
        open_orders(tmp_path)


def test_a_parquet_file_missing_a_column_is_named_before_any_row_is_read(tmp_path):
    write(orders([1001, 1002]), tmp_path / "a.parquet")
    write(orders([1003]).drop(columns=[ENTITY_KEY]), tmp_path / "b.parquet")

    with pytest.raises(OrdersError, match=r"b\.parquet: missing column\(s\) \['driver_id'\]"):
        open_orders(tmp_path)


def test_nulls_in_a_later_batch_of_a_parquet_file_are_named_with_the_file(tmp_path):
    frame = orders(list(range(1001, 1011))).astype({ENTITY_KEY: "Int64"})
    frame.loc[8, ENTITY_KEY] = pd.NA
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "a.parquet", row_group_size=4)

    found = open_orders(tmp_path / "a.parquet")
    with pytest.raises(OrdersError, match=r"a\.parquet: null values in \{'driver_id': 1\}"):
        list(found.tables(batch_rows=4))


# --- one listing, passed down ---------------------------------------------------------------


def test_the_listed_files_are_the_ones_read_digested_and_rechecked(tmp_path):
    """A file dropped into the folder after the run listed it is new data for the next run:
    the run reads, digests and re-checks exactly what it listed, so its version tag names the
    data it trained on."""
    write(orders([1001, 1002]), tmp_path / "a.parquet")
    listed = list_orders(tmp_path)
    write(orders([1003, 1004, 1005]), tmp_path / "b.parquet")

    found = open_orders(listed)

    assert found.rows == 2
    assert [path.name for path, _ in found.files] == ["a.parquet"]
    assert listed.digest == content_digest([tmp_path / "a.parquet"])
    listed.verify_unchanged()


def test_batch_requests_are_read_from_the_files_listed_for_them(tmp_path):
    """The scoring run and the scoring sensor list the request folder once and read that
    listing: a file dropped in after it is neither scored nor named in the run's metadata or
    digest, and waits for the next run."""
    write(orders([1001, 1002]), tmp_path / "a.parquet")
    listed = list_orders(tmp_path)
    write(orders([1003, 1004, 1005]), tmp_path / "b.parquet")

    requests = read_requests(listed)

    assert requests[ENTITY_KEY].tolist() == [1001, 1002]
    assert LABEL not in requests
    assert len(read_requests(tmp_path)) == 5  # a location is listed when it is read


def test_an_empty_listing_of_requests_names_the_folder(tmp_path):
    with pytest.raises(OrdersError, match=f"request folder {tmp_path} holds no request files"):
        read_requests(list_orders(tmp_path))


def test_a_listed_file_rewritten_before_its_digest_fails_the_recheck(tmp_path):
    """The sizes and times are taken when the files are listed and the digest after, so a
    write in between cannot pass as the version the run was tagged with."""
    path = write(orders([1001, 1002]), tmp_path / "a.parquet")
    listed = list_orders(tmp_path)
    write(orders([1001, 1002, 1003]), path)
    os.utime(path, ns=(1, 1))

    listed.digest  # noqa: B018 - the digest of the rewritten bytes
    with pytest.raises(SnapshotChanged, match="a.parquet"):
        listed.verify_unchanged()


# --- the training window -------------------------------------------------------------------


def test_the_window_keeps_the_newest_days_of_every_file_whatever_their_zones(tmp_path):
    # The newest order is in a spreadsheet export in New York time; the other files are in
    # Berlin time (parquet) and naive UTC (CSV). The window counts back from the newest
    # instant, whatever zone wrote it.
    berlin = orders([1001] * 4, start="2025-12-01 00:30", tz="Europe/Berlin")
    berlin[EVENT_TIMESTAMP] = berlin[EVENT_TIMESTAMP] + pd.to_timedelta([0, 1, 2, 3], unit="D")
    write(berlin, tmp_path / "a.parquet")
    naive = pd.DataFrame(
        {
            EVENT_TIMESTAMP: ["2025-12-02 12:00:00", "2025-12-04 00:00:00.000000001"],
            ENTITY_KEY: [1002, 1002],
            LABEL: [1, 0],
        }
    )
    naive.to_csv(tmp_path / "b.csv", index=False)
    pd.DataFrame(
        {EVENT_TIMESTAMP: ["2025-12-05T19:00:00-05:00"], ENTITY_KEY: [1003], LABEL: [1]}
    ).to_csv(tmp_path / "c.csv", index=False)
    every = read_orders(tmp_path)

    window = open_orders(tmp_path).window(2)

    newest = pd.Timestamp("2025-12-06 00:00", tz="UTC")
    assert window.start == newest - pd.Timedelta(days=2)
    kept = pa.concat_tables(window.tables()).to_pandas()
    expected = every[every[EVENT_TIMESTAMP] > newest - pd.Timedelta(days=2)]
    # Berlin's 2025-12-04 00:30 is 2025-12-03 23:30 UTC: outside. The naive order one
    # nanosecond after the start: inside.
    assert sorted(kept[EVENT_TIMESTAMP]) == sorted(expected[EVENT_TIMESTAMP])
    assert sorted(kept[ENTITY_KEY]) == [1002, 1003]
    assert "event time after 2025-12-04T00:00:00+00:00" in window.describe()


def test_a_window_of_no_days_is_refused(tmp_path):
    write(orders([1001, 1002]), tmp_path / "orders.parquet")

    with pytest.raises(OrdersError, match="window of 0 days holds no orders"):
        open_orders(tmp_path).window(0)
