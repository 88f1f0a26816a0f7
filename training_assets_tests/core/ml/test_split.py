"""Unit tests for the train/test split in training_assets.core.ml.split."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training_assets.core.data import storage
from training_assets.core.ml.split import Split, held_out_by_hash, split_file, split_frame
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL
from training_assets_tests.repo_schema import repo_schema

FEATURES = repo_schema().feature_names


def training_table(n: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            ENTITY_KEY: np.arange(1000, 1000 + n, dtype=np.int64),
            EVENT_TIMESTAMP: pd.date_range("2025-12-01", periods=n, freq="h", tz="UTC"),
            LABEL: rng.integers(0, 2, n).astype(np.int64),
            "conv_rate": rng.uniform(0, 1, n).astype(np.float32),
            "acc_rate": rng.uniform(0, 1, n).astype(np.float32),
            "avg_daily_trips": rng.integers(0, 40, n).astype(np.float64),
        }
    )


@pytest.mark.parametrize(("test_size", "n_test"), [(0.2, 20), (0.25, 25), (0.5, 50)])
def test_random_split_sizes_match_test_size(test_size, n_test):
    split = split_frame(
        training_table(100), FEATURES, test_size=test_size, random_seed=1, strategy="random"
    )

    assert len(split.test_x) == len(split.test_y) == n_test
    assert len(split.train_x) == len(split.train_y) == 100 - n_test


def test_split_partitions_the_rows():
    frame = training_table(100)
    split = split_frame(frame, FEATURES, test_size=0.3, random_seed=1)

    train_rows, test_rows = set(split.train_x.index), set(split.test_x.index)
    assert train_rows.isdisjoint(test_rows)
    assert train_rows | test_rows == set(frame.index)
    # X and y of each side are the same rows in the same order.
    assert list(split.train_x.index) == list(split.train_y.index)
    assert list(split.test_x.index) == list(split.test_y.index)


def test_split_same_seed_gives_same_split():
    frame = training_table(100)
    first = split_frame(frame, FEATURES, test_size=0.2, random_seed=7)
    second = split_frame(frame, FEATURES, test_size=0.2, random_seed=7)

    pd.testing.assert_frame_equal(first.train_x, second.train_x)
    pd.testing.assert_frame_equal(first.test_x, second.test_x)
    pd.testing.assert_series_equal(first.train_y, second.train_y)
    pd.testing.assert_series_equal(first.test_y, second.test_y)


def test_split_different_seed_gives_different_split():
    frame = training_table(100)
    first = split_frame(frame, FEATURES, test_size=0.2, random_seed=7)
    second = split_frame(frame, FEATURES, test_size=0.2, random_seed=8)

    assert set(first.test_x.index) != set(second.test_x.index)


def test_split_x_holds_only_features_and_y_only_label():
    frame = training_table(50).assign(extra=1.0)
    split = split_frame(frame, FEATURES, test_size=0.2, random_seed=0)

    assert list(split.train_x.columns) == list(FEATURES)
    assert list(split.test_x.columns) == list(FEATURES)
    assert split.train_y.name == LABEL
    assert split.test_y.name == LABEL
    pd.testing.assert_series_equal(split.train_y, frame.loc[split.train_y.index, LABEL])
    pd.testing.assert_frame_equal(split.test_x, frame.loc[split.test_x.index, list(FEATURES)])


@pytest.mark.parametrize("test_size", [0, 1, -0.1, 1.5, float("nan")])
def test_split_rejects_bad_test_size(test_size):
    with pytest.raises(ValueError, match="test_size must be in \\(0, 1\\)"):
        split_frame(training_table(20), FEATURES, test_size=test_size, random_seed=0)


@pytest.mark.parametrize("test_size", [0.1, 0.2, 0.5])
def test_hash_split_holds_out_about_test_size(test_size):
    frame = training_table(20_000)
    split = split_frame(frame, FEATURES, test_size=test_size, random_seed=3)

    # A binomial share: within five standard deviations of test_size.
    spread = 5 * np.sqrt(test_size * (1 - test_size) / len(frame))
    assert abs(len(split.test_x) / len(frame) - test_size) < spread
    assert len(split.train_x) + len(split.test_x) == len(frame)


def test_hash_split_keeps_each_order_on_its_side_when_orders_arrive():
    first = training_table(1_000, seed=1)
    later = pd.concat(
        [training_table(1_000, seed=2).assign(driver_id=lambda f: f.driver_id + 7), first]
    )
    later = later.sample(frac=1.0, random_state=0).reset_index(drop=True)

    before = split_frame(first, FEATURES, test_size=0.2, random_seed=5)
    after = split_frame(later, FEATURES, test_size=0.2, random_seed=5)

    def held_out(split):
        return set(zip(split.test_keys[ENTITY_KEY], split.test_keys[EVENT_TIMESTAMP], strict=True))

    old_orders = set(zip(first[ENTITY_KEY], first[EVENT_TIMESTAMP], strict=True))
    assert held_out(after) & old_orders == held_out(before)


def test_hash_split_puts_repeated_orders_on_one_side():
    frame = training_table(500)
    repeated = pd.concat([frame, frame], ignore_index=True)
    split = split_frame(repeated, FEATURES, test_size=0.3, random_seed=2)

    test_keys = split.test_keys.assign(**{LABEL: split.test_y})
    per_order = test_keys.groupby([ENTITY_KEY, EVENT_TIMESTAMP]).size()
    assert (per_order == 2).all()
    assert len(per_order) > 0


def test_hash_split_names_an_empty_side():
    with pytest.raises(ValueError, match="left the test side empty for 2 rows"):
        split_frame(training_table(2), FEATURES, test_size=0.01, random_seed=0)


def test_time_split_tests_on_the_latest_orders():
    frame = training_table(100).sample(frac=1.0, random_state=1)
    split = split_frame(frame, FEATURES, test_size=0.2, random_seed=0, strategy="time")

    assert len(split.test_x) == 20
    assert (
        split.test_keys[EVENT_TIMESTAMP].min()
        > frame.loc[split.train_x.index, EVENT_TIMESTAMP].max()
    )


@pytest.mark.parametrize("strategy", ["hash", "random", "time"])
@pytest.mark.parametrize("batch_rows", [1 << 20, 64])
def test_a_split_of_the_file_equals_the_split_of_the_frame(tmp_path, strategy, batch_rows):
    frame = training_table(500).assign(feature_timestamp=lambda f: f[EVENT_TIMESTAMP])
    frame.loc[[3, 9], "avg_daily_trips"] = np.nan
    frame["avg_daily_trips"] = frame["avg_daily_trips"].astype("Int32")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Row groups smaller than the batches, so a batch spans several.
    pq.write_table(table, tmp_path / "training_data.parquet", row_group_size=100)
    loaded = table.to_pandas()  # as a frame read from the file holds it
    targets = {name: tmp_path / f"{name}.parquet" for name in Split._fields}

    rows = split_file(
        str(tmp_path / "training_data.parquet"), FEATURES, 0.2, 4, strategy, targets, batch_rows
    )
    from_frame = split_frame(loaded, FEATURES, 0.2, 4, strategy)

    for name, expected in from_frame._asdict().items():
        # As the parquet IO manager loads the file: numbered from 0.
        found = storage.read_parquet(targets[name])
        assert rows[name] == len(expected), name
        expected = expected.reset_index(drop=True)
        if isinstance(expected, pd.DataFrame):
            pd.testing.assert_frame_equal(found, expected, obj=name)
        else:
            pd.testing.assert_series_equal(found, expected, obj=name)
    assert storage.read_parquet(targets["train_x"])["avg_daily_trips"].dtype == "float64"


def test_a_file_split_names_a_missing_feature(tmp_path):
    frame = training_table(50).drop(columns=["acc_rate"])
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "training_data.parquet")
    targets = {name: tmp_path / f"{name}.parquet" for name in Split._fields}

    with pytest.raises(ValueError, match=r"lacks column\(s\) \['acc_rate'\]"):
        split_file(str(tmp_path / "training_data.parquet"), FEATURES, 0.2, 4, "hash", targets)


def test_the_hash_verdict_on_an_order_does_not_depend_on_the_rest_of_the_table():
    # Over a million rows, so the hash runs in several slices.
    rng = np.random.default_rng(9)
    drivers = rng.integers(1000, 3000, 1_500_000)
    times = pd.Series(pd.date_range("2025-01-01", periods=1_500_000, freq="s", tz="UTC"))

    whole = held_out_by_hash(drivers, times, 0.2, 11)
    tail = held_out_by_hash(drivers[1_234_567:], times[1_234_567:], 0.2, 11)

    np.testing.assert_array_equal(whole[1_234_567:], tail)
    assert abs(whole.mean() - 0.2) < 0.002


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", None])
def test_the_hash_reads_arrow_times_as_it_reads_pandas_times(zone):
    times = pd.Series(pd.date_range("2025-03-30 00:30", periods=2000, freq="17min", tz=zone))
    drivers = np.arange(2000) % 37 + 1000

    from_pandas = held_out_by_hash(drivers, times, 0.3, 5)
    from_arrow = held_out_by_hash(drivers, pa.chunked_array([pa.array(times)]), 0.3, 5)

    np.testing.assert_array_equal(from_arrow, from_pandas)
    assert 0.25 < from_arrow.mean() < 0.35


def test_an_output_that_cannot_be_written_fails_the_split(tmp_path, monkeypatch):
    # A full disk cannot be caused here; the writer's own error stands in for it. The outputs
    # are written on threads of their own, and the error must still reach the caller.
    pq.write_table(
        pa.Table.from_pandas(training_table(200)),
        tmp_path / "training_data.parquet",
        row_group_size=50,
    )
    targets = {name: tmp_path / f"{name}.parquet" for name in Split._fields}
    written = []
    write = pq.ParquetWriter.write_table

    def full_disk_for_test_keys(self, table, row_group_size=None):
        if self.where == str(targets["test_keys"]):
            raise OSError(28, "No space left on device")
        written.append(self.where)
        return write(self, table, row_group_size)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full_disk_for_test_keys)

    with pytest.raises(OSError, match="No space left on device"):
        split_file(str(tmp_path / "training_data.parquet"), FEATURES, 0.2, 4, "hash", targets, 50)

    # The first batch's other outputs were written; no later batch was.
    assert sorted(written) == sorted(str(targets[name]) for name in Split._fields[:4])
