"""Unit tests for the seeded sample generator in training_assets.core.data.sample_data."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training_assets.core.data import sample_data
from training_assets.core.data.orders import read_orders
from training_assets.core.data.point_in_time import features_as_of
from training_assets.core.data.sample_data import (
    FIRST_DRIVER_ID,
    STATS_END,
    UNKNOWN_DRIVER_ID,
    SampleSpec,
    driver_stats,
    write_sample,
)
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    LABEL,
    ORDERS_DTYPES,
)

SPEC = SampleSpec(n_orders=2000, n_drivers=10, days=5, seed=17)
OTHER_SEED = SampleSpec(n_orders=2000, n_drivers=10, days=5, seed=18)


@pytest.fixture(scope="module")
def stats() -> pd.DataFrame:
    return driver_stats(SPEC)


@pytest.fixture(scope="module")
def orders(stats) -> pd.DataFrame:
    return sample_data.orders(SPEC, stats)


def dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {column: str(dtype) for column, dtype in frame.dtypes.items()}


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_equal_frames(stats, orders):
    again_stats = driver_stats(SPEC)
    again_orders = sample_data.orders(SPEC, again_stats)

    pd.testing.assert_frame_equal(again_stats, stats)
    pd.testing.assert_frame_equal(again_orders, orders)


def test_other_seed_gives_different_frames(stats, orders):
    other_stats = driver_stats(OTHER_SEED)
    other_orders = sample_data.orders(OTHER_SEED, other_stats)

    assert not other_stats.equals(stats)
    assert not other_orders.equals(orders)
    assert not np.allclose(other_stats["conv_rate"].iloc[:100], stats["conv_rate"].iloc[:100])


# --- driver stats --------------------------------------------------------------------------


def test_driver_stats_dtypes(stats):
    assert dtypes(stats) == {
        ENTITY_KEY: "int64",
        "datetime": "datetime64[ns, UTC]",
        "conv_rate": "float32",
        "acc_rate": "float32",
        "avg_daily_trips": "int32",
        "created": "datetime64[ns, UTC]",
    }


def test_driver_stats_shape_and_range(stats):
    hourly = SPEC.n_drivers * SPEC.days * 24
    assert len(stats) == hourly + int(hourly * SPEC.stale_rate)
    assert sorted(stats[ENTITY_KEY].unique()) == list(
        range(FIRST_DRIVER_ID, FIRST_DRIVER_ID + SPEC.n_drivers)
    )
    assert stats["datetime"].max() == STATS_END
    assert stats["datetime"].min() == STATS_END - pd.Timedelta(hours=SPEC.days * 24 - 1)
    assert stats["conv_rate"].between(0, 1).all()
    assert stats["acc_rate"].between(0, 1).all()
    assert (stats["avg_daily_trips"] >= 0).all()


def test_stale_rows_share_driver_hour_with_differing_created(stats):
    keys = [ENTITY_KEY, "datetime"]
    duplicated = stats[stats.duplicated(keys, keep=False)]
    hourly = SPEC.n_drivers * SPEC.days * 24

    assert len(duplicated) == 2 * int(hourly * SPEC.stale_rate)
    created_per_hour = duplicated.groupby(keys)["created"].nunique()
    assert (created_per_hour == 2).all()
    # The fresh row was written as its hour closed, the stale one 4 minutes earlier.
    offsets = (duplicated["created"] - duplicated["datetime"]).unique()
    assert sorted(offsets) == [pd.Timedelta(minutes=-4), pd.Timedelta(0)]


def test_current_features_use_the_latest_created_row(stats):
    keys = [ENTITY_KEY, "datetime"]
    stale_hour = stats[stats.duplicated(keys, keep=False)].iloc[0]
    order = pd.DataFrame(
        {
            EVENT_TIMESTAMP: [stale_hour["datetime"] + pd.Timedelta(minutes=30)],
            ENTITY_KEY: [stale_hour[ENTITY_KEY]],
        }
    )
    rows = stats[
        (stats[ENTITY_KEY] == stale_hour[ENTITY_KEY])
        & (stats["datetime"] == stale_hour["datetime"])
    ]
    fresh = rows.loc[rows["created"].idxmax()]

    current = features_as_of(order, stats)

    assert current["conv_rate"].iloc[0] == fresh["conv_rate"]
    assert current["created"].iloc[0] == fresh["created"]


# --- orders --------------------------------------------------------------------------------


def test_orders_fit_the_orders_schema(orders):
    assert len(orders) == SPEC.n_orders
    assert dtypes(orders) == ORDERS_DTYPES


def test_labels_are_zero_or_one(orders):
    assert set(orders[LABEL].unique()) == {0, 1}


def test_some_orders_have_no_features(stats, orders):
    first_stats_row = stats["datetime"].min()

    unknown = orders[ENTITY_KEY] == UNKNOWN_DRIVER_ID
    too_early = orders[EVENT_TIMESTAMP] < first_stats_row

    assert unknown.sum() > 0
    assert too_early.sum() > 0
    assert UNKNOWN_DRIVER_ID not in set(stats[ENTITY_KEY])
    # Both kinds really end up without features.
    current = features_as_of(orders, stats)
    assert current.loc[unknown | too_early, "conv_rate"].isna().all()
    # And they stay a small share, as the unmatched rate says (about 1 %).
    assert (unknown | too_early).mean() < 0.05


def test_labels_correlate_with_current_conv_rate(stats, orders):
    current = features_as_of(orders, stats)
    assert list(current.index) == list(orders.index)
    matched = current["conv_rate"].notna()

    correlation = np.corrcoef(
        current.loc[matched, "conv_rate"].astype(float), orders.loc[matched, LABEL]
    )[0, 1]

    assert correlation > 0.1
    positives = orders[LABEL] == 1
    assert (
        current.loc[matched & positives, "conv_rate"].mean()
        > current.loc[matched & ~positives, "conv_rate"].mean()
    )


# --- write_sample --------------------------------------------------------------------------


def test_write_sample_writes_readable_parquet(tmp_path, stats, orders):
    orders_path = tmp_path / "data" / "orders.parquet"
    stats_path = tmp_path / "feature_repo" / "driver_stats.parquet"

    counts = write_sample(SPEC, orders_path, stats_path)

    assert counts == (len(orders), len(stats))
    # Times are stored in microseconds, which Spark and DuckDB read; the values are unchanged.
    for path in (stats_path, orders_path):
        units = {f.type.unit for f in pq.read_schema(path) if pa.types.is_timestamp(f.type)}
        assert units == {"us"}, path
    pd.testing.assert_frame_equal(_in_ns(pd.read_parquet(stats_path)), stats)
    pd.testing.assert_frame_equal(_in_ns(pd.read_parquet(orders_path)), orders)
    pd.testing.assert_frame_equal(
        read_orders(orders_path), orders[[EVENT_TIMESTAMP, ENTITY_KEY, LABEL]]
    )
    # No temporary files left beside the outputs.
    assert sorted(p.name for p in orders_path.parent.iterdir()) == ["orders.parquet"]
    assert sorted(p.name for p in stats_path.parent.iterdir()) == ["driver_stats.parquet"]


def _in_ns(frame: pd.DataFrame) -> pd.DataFrame:
    times = frame.select_dtypes("datetimetz").columns
    return frame.astype({name: "datetime64[ns, UTC]" for name in times})


def test_a_sample_past_one_part_is_written_a_part_at_a_time(tmp_path, monkeypatch):
    spec = SampleSpec(n_orders=2_500, n_drivers=5, days=3)
    monkeypatch.setattr(sample_data, "ORDERS_PART", 1_000)

    written, _ = write_sample(spec, tmp_path / "o.parquet", tmp_path / "s.parquet")
    again, _ = write_sample(spec, tmp_path / "o2.parquet", tmp_path / "s2.parquet")

    table = pq.read_table(tmp_path / "o.parquet")
    assert written == table.num_rows == 2_500
    assert table.equals(pq.read_table(tmp_path / "o2.parquet"))
    assert table.schema.field(EVENT_TIMESTAMP).type == pa.timestamp("us", tz="UTC")
    # The first part is what a one-part sample of its size holds; later parts differ from it.
    one = SampleSpec(n_orders=1_000, n_drivers=5, days=3)
    first = write_sample(one, tmp_path / "one.parquet", tmp_path / "one_s.parquet")
    assert first[0] == 1_000
    one_part = pq.read_table(tmp_path / "one.parquet")
    assert table.slice(0, 1_000).equals(one_part)
    assert not table.slice(1_000, 1_000).equals(one_part)
    assert len(read_orders(tmp_path / "o.parquet")) == 2_500
