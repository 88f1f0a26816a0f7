"""Unit tests for order positions and the restored join in training_assets.core.ml.table."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training_assets.core.ml.table import (
    ORDER_POSITION,
    as_training_table,
    with_order_position,
    write_training_table,
)
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURE_CREATED,
    FEATURE_TIMESTAMP,
    LABEL,
    PROVENANCE_PREFIX,
    FeatureSpec,
    TrainingSchema,
)
from training_assets_tests.repo_schema import repo_schema

STAMP = f"{PROVENANCE_PREFIX}driver_stats__timestamp"
CREATED = f"{PROVENANCE_PREFIX}driver_stats__created"


def orders_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            EVENT_TIMESTAMP: pd.to_datetime(
                [
                    "2025-12-03 10:00",
                    "2025-12-01 09:00",
                    "2025-12-02 08:00",
                    "2025-12-01 07:00",
                    "2025-12-04 06:00",
                ],
                utc=True,
            ),
            ENTITY_KEY: np.array([1003, 1001, 1002, 1001, 1004], dtype=np.int64),
            LABEL: np.array([1, 0, 1, 1, 0], dtype=np.int64),
        }
    )


def test_with_order_position_numbers_rows_without_touching_input():
    orders = orders_frame()

    positioned = with_order_position(orders)

    assert list(positioned[ORDER_POSITION]) == [0, 1, 2, 3, 4]
    assert positioned[ORDER_POSITION].dtype == np.int64
    assert ORDER_POSITION not in orders.columns
    pd.testing.assert_frame_equal(positioned.drop(columns=ORDER_POSITION), orders)


def joined_like_feast(orders: pd.DataFrame) -> pd.DataFrame:
    """What a join may hand back: shuffled rows and columns, microsecond timestamps, extras."""
    joined = with_order_position(orders)
    joined["avg_daily_trips"] = [10.0, 11.0, 12.0, 13.0, np.nan]
    joined["zz_unknown"] = ["a", "b", "c", "d", "e"]
    joined["conv_rate"] = np.array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=np.float32)
    joined["acc_rate"] = np.array([0.9, 0.8, 0.7, 0.6, 0.5], dtype=np.float32)
    joined["aa_unknown"] = [5, 4, 3, 2, 1]
    # The offline store's provenance of the matched rows, null where no row was joined.
    joined[STAMP] = pd.Series(
        [*(joined[EVENT_TIMESTAMP].iloc[:4] - pd.Timedelta(minutes=30)), pd.NaT]
    ).astype("datetime64[us, UTC]")
    joined[CREATED] = pd.Series(
        [*(joined[EVENT_TIMESTAMP].iloc[:4] - pd.Timedelta(minutes=25)), pd.NaT]
    ).astype("datetime64[us, UTC]")
    joined[EVENT_TIMESTAMP] = joined[EVENT_TIMESTAMP].astype("datetime64[us, UTC]")
    shuffled = joined.sample(frac=1, random_state=4)
    assert list(shuffled[ORDER_POSITION]) != [0, 1, 2, 3, 4]
    columns = [
        "zz_unknown",
        STAMP,
        "acc_rate",
        CREATED,
        ORDER_POSITION,
        LABEL,
        "aa_unknown",
        ENTITY_KEY,
        "avg_daily_trips",
        EVENT_TIMESTAMP,
        "conv_rate",
    ]
    return shuffled[columns]


def rebuilt(joined: pd.DataFrame) -> pd.DataFrame:
    """as_training_table on the Arrow table of `joined`, back as a frame to assert on."""
    table = pa.Table.from_pandas(joined, preserve_index=False)
    return as_training_table(table, repo_schema()).to_pandas()


def test_as_training_table_restores_input_order():
    orders = orders_frame()

    table = rebuilt(joined_like_feast(orders))

    assert list(table[ENTITY_KEY]) == [1003, 1001, 1002, 1001, 1004]
    assert list(table[EVENT_TIMESTAMP]) == list(orders[EVENT_TIMESTAMP])
    assert list(table["zz_unknown"]) == ["a", "b", "c", "d", "e"]
    assert list(table["aa_unknown"]) == [5, 4, 3, 2, 1]
    assert list(table.index) == [0, 1, 2, 3, 4]


def test_as_training_table_drops_position_and_orders_columns():
    table = rebuilt(joined_like_feast(orders_frame()))

    assert ORDER_POSITION not in table.columns
    # Schema columns first in schema order, unknown ones after them in the order found.
    assert list(table.columns) == list(repo_schema().columns) + ["zz_unknown", "aa_unknown"]


def test_as_training_table_turns_the_provenance_into_utc_feature_times():
    orders = orders_frame()
    table = rebuilt(joined_like_feast(orders))

    assert not [column for column in table.columns if column.startswith(PROVENANCE_PREFIX)]
    for column, minutes in ((FEATURE_TIMESTAMP, 30), (FEATURE_CREATED, 25)):
        assert str(table[column].dtype) == "datetime64[ns, UTC]"
        assert table[column].iloc[0] == orders[EVENT_TIMESTAMP].iloc[0] - pd.Timedelta(
            minutes=minutes
        )
        assert pd.isna(table[column].iloc[4])


def test_the_feature_times_of_several_views_are_the_latest_of_them():
    joined = with_order_position(orders_frame())
    early = joined[EVENT_TIMESTAMP] - pd.Timedelta(hours=2)
    late = joined[EVENT_TIMESTAMP] - pd.Timedelta(hours=1)
    joined[f"{PROVENANCE_PREFIX}a__timestamp"] = early
    joined[f"{PROVENANCE_PREFIX}b__timestamp"] = late.where(joined.index != 0, pd.NaT)
    joined[f"{PROVENANCE_PREFIX}a__created"] = early

    table = rebuilt(joined)

    assert table[FEATURE_TIMESTAMP].iloc[0] == early.iloc[0]
    assert table[FEATURE_TIMESTAMP].iloc[1] == late.iloc[1]
    assert table[FEATURE_CREATED].iloc[1] == early.iloc[1]


def test_features_are_cast_to_their_declared_types_when_they_fit():
    joined = with_order_position(orders_frame())
    joined["conv_rate"] = np.array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=np.float64)
    joined["avg_daily_trips"] = np.array([10, 11, 12, 13, 14], dtype=np.int64)
    joined["acc_rate"] = [1.0, 2.5, 3.0, 4.0, 5.0]
    declared = TrainingSchema(
        "service",
        (
            FeatureSpec("conv_rate", "float32"),
            FeatureSpec("avg_daily_trips", "int32"),
            FeatureSpec("acc_rate", "int32"),
        ),
    )

    table = as_training_table(pa.Table.from_pandas(joined, preserve_index=False), declared)

    assert table.schema.field("conv_rate").type == pa.float32()
    assert table.schema.field("avg_daily_trips").type == pa.int32()
    # 2.5 is no int32: the column stays as found, for the dtype gate to name.
    assert table.schema.field("acc_rate").type == pa.float64()


def test_as_training_table_normalises_timestamps_to_ns_utc():
    table = rebuilt(joined_like_feast(orders_frame()))

    assert str(table[EVENT_TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    assert table[EVENT_TIMESTAMP].iloc[0] == pd.Timestamp("2025-12-03 10:00", tz="UTC")


def test_as_training_table_converts_other_zones_to_utc():
    orders = orders_frame()
    orders[EVENT_TIMESTAMP] = orders[EVENT_TIMESTAMP].dt.tz_convert("Asia/Tokyo")

    table = rebuilt(with_order_position(orders))

    assert str(table[EVENT_TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    assert table[EVENT_TIMESTAMP].iloc[0] == pd.Timestamp("2025-12-03 10:00", tz="UTC")


def test_as_training_table_reads_naive_timestamps_as_utc():
    orders = orders_frame()
    orders[EVENT_TIMESTAMP] = orders[EVENT_TIMESTAMP].dt.tz_localize(None)

    table = rebuilt(with_order_position(orders))

    assert str(table[EVENT_TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    assert table[EVENT_TIMESTAMP].iloc[0] == pd.Timestamp("2025-12-03 10:00", tz="UTC")


def join_by_hand(entity: pd.DataFrame) -> pa.Table:
    """A stand-in for the point-in-time join: every order gets the same rates, and trips that
    fit int32 except on the order of driver 1004."""
    trips = np.where(entity[ENTITY_KEY] == 1004, 2**40, 7).astype(np.int64)
    joined = entity.assign(
        conv_rate=np.float32(0.5), acc_rate=np.float32(0.25), avg_daily_trips=trips
    )
    return pa.Table.from_pandas(joined, preserve_index=False)


def test_a_table_written_in_slices_equals_one_written_at_once(tmp_path):
    orders = pa.Table.from_pandas(orders_frame().iloc[:4], preserve_index=False)

    at_once = write_training_table(
        [orders], join_by_hand, repo_schema(), tmp_path / "once.parquet", 10
    )
    # Read in batches of 1 and 3 rows, joined in slices of 3 and 1.
    joined_slices = []

    def counting_join(entity: pd.DataFrame) -> pa.Table:
        joined_slices.append(len(entity))
        return join_by_hand(entity)

    sliced = write_training_table(
        [orders.slice(0, 1), orders.slice(1)],
        counting_join,
        repo_schema(),
        tmp_path / "sliced.parquet",
        3,
    )

    assert pq.read_table(tmp_path / "sliced.parquet").equals(
        pq.read_table(tmp_path / "once.parquet")
    )
    assert sliced == at_once == (4, 0, 0.75)
    assert joined_slices == [3, 1]


def test_orders_without_rows_write_an_empty_table_with_the_columns(tmp_path):
    orders = pa.Table.from_pandas(orders_frame().iloc[:0], preserve_index=False)

    figures = write_training_table(
        [orders], join_by_hand, repo_schema(), tmp_path / "empty.parquet", 3
    )

    written = pq.read_table(tmp_path / "empty.parquet")
    assert figures.rows == written.num_rows == 0
    assert set(repo_schema().feature_names) <= set(written.column_names)


def test_a_slice_whose_feature_no_longer_fits_the_first_slices_type_is_named(tmp_path):
    # Driver 1004's order is in the second slice, where trips no longer fit int32.
    orders = pa.Table.from_pandas(orders_frame(), preserve_index=False)

    with pytest.raises(ValueError, match="from row 4 .*avg_daily_trips.*int32.*int64"):
        write_training_table([orders], join_by_hand, repo_schema(), tmp_path / "t.parquet", 4)


def test_a_slice_that_cannot_be_written_fails_the_table_and_joins_no_further(tmp_path, monkeypatch):
    # A full disk cannot be caused here; the writer's own error stands in for it. Slices are
    # written on a thread of their own, and its error must still reach the caller.
    orders = pa.Table.from_pandas(orders_frame().iloc[:4], preserve_index=False)
    joined_slices = []

    def counting_join(entity: pd.DataFrame) -> pa.Table:
        joined_slices.append(len(entity))
        return join_by_hand(entity)

    def full_disk(self, table, row_group_size=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full_disk)

    with pytest.raises(OSError, match="No space left on device"):
        write_training_table([orders], counting_join, repo_schema(), tmp_path / "t.parquet", 1)

    # The first slice's write failed while the second was joined; the third never was.
    assert joined_slices == [1, 1]
