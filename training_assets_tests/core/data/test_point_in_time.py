"""The pandas point-in-time lookup on stats files as others write them: Feast's generator,
stored in microseconds (as Spark and pyarrow's `coerce_timestamps="us"` write them) or with
naive times, against nanosecond orders."""

import numpy as np
import pandas as pd
import pytest
from feast.driver_test_data import create_driver_hourly_stats_df

from training_assets.core.data.point_in_time import features_as_of

START = pd.Timestamp("2021-04-01", tz="UTC")
END = pd.Timestamp("2021-04-03", tz="UTC")
DRIVERS = [5001, 5002, 5003]


@pytest.fixture
def stats() -> pd.DataFrame:
    np.random.seed(3)
    generated = create_driver_hourly_stats_df(DRIVERS, START, END)
    return generated.rename(columns={"event_timestamp": "datetime"})


@pytest.fixture
def orders() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    seconds = rng.integers(0, int((END - START).total_seconds()) + 7200, 200)
    return pd.DataFrame(
        {
            "event_timestamp": (START + pd.to_timedelta(seconds, unit="s")).astype(
                "datetime64[ns, UTC]"
            ),
            "driver_id": rng.choice(DRIVERS, 200),
        },
        index=pd.RangeIndex(100, 300),
    )


def _expected(orders: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    """The row in force at each order, found one order at a time."""
    rows = []
    for _, order in orders.iterrows():
        known = stats[
            (stats["driver_id"] == order["driver_id"])
            & (stats["datetime"] <= order["event_timestamp"])
        ].sort_values(["datetime", "created"])
        rows.append(known["conv_rate"].iloc[-1] if len(known) else np.nan)
    return pd.Series(rows, index=orders.index, name="conv_rate")


def test_microsecond_stats_file_against_nanosecond_orders(tmp_path, stats, orders):
    path = tmp_path / "driver_stats.parquet"
    stats.to_parquet(path, index=False, coerce_timestamps="us")
    read = pd.read_parquet(path)
    assert str(read["datetime"].dtype) == "datetime64[us, UTC]"

    found = features_as_of(orders, read)

    pd.testing.assert_series_equal(found["conv_rate"], _expected(orders, stats))


def test_naive_stats_times_are_read_as_utc(stats, orders):
    naive = stats.assign(datetime=stats["datetime"].dt.tz_localize(None))

    found = features_as_of(orders, naive)

    pd.testing.assert_series_equal(found["conv_rate"], _expected(orders, stats))


def test_a_row_without_created_loses_to_one_with_it():
    """As the offline store picks: a known write time beats an unknown one, whatever the file
    order; among rows without one, the first in the file."""
    hour = pd.Timestamp("2025-01-01 10:00", tz="UTC")
    stats = pd.DataFrame(
        {
            "driver_id": [1, 1, 1, 2, 2],
            "datetime": [hour] * 5,
            "created": [pd.NaT, hour + pd.Timedelta(minutes=5), pd.NaT, pd.NaT, pd.NaT],
            "conv_rate": [0.1, 0.2, 0.3, 0.4, 0.5],
        }
    )
    orders = pd.DataFrame(
        {"event_timestamp": [hour + pd.Timedelta(minutes=30)] * 2, "driver_id": [1, 2]}
    )

    found = features_as_of(orders, stats)

    assert found["conv_rate"].tolist() == [0.2, 0.4]
