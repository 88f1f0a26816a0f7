"""The orders resource's training window: its data version and the orders it counts."""

import pandas as pd
import pytest

from training_assets.core.data.fingerprints import combined_digest
from training_assets.core.data.orders import OrdersError
from training_assets.defs.resources.orders import OrdersSource


def test_the_same_files_under_a_window_are_another_data_version():
    every = OrdersSource(orders_path="/nowhere")
    windowed = OrdersSource(orders_path="/nowhere", training_window_days=7)

    # Without a window, the version the sensors and earlier models recorded.
    assert every.training_digest("o", "s") == combined_digest("o", "s")
    assert windowed.training_digest("o", "s") != every.training_digest("o", "s")
    assert windowed.training_digest("o", "s") != OrdersSource(
        orders_path="/nowhere", training_window_days=8
    ).training_digest("o", "s")


def test_the_count_the_row_gate_compares_is_the_windows(tmp_path):
    times = pd.Timestamp("2026-02-01", tz="UTC") + pd.to_timedelta(range(10), unit="D")
    pd.DataFrame(
        {"event_timestamp": times, "driver_id": range(1001, 1011), "trip_completed": 1}
    ).to_parquet(tmp_path / "orders.parquet", index=False)

    assert OrdersSource(orders_path=str(tmp_path)).count() == 10
    # Within three days of the newest order: the newest three.
    assert OrdersSource(orders_path=str(tmp_path), training_window_days=3).count() == 3


def test_a_window_of_no_days_is_refused_not_taken_for_no_window(tmp_path):
    pd.DataFrame(
        {"event_timestamp": [pd.Timestamp("2026-02-01", tz="UTC")], "driver_id": [1001]}
    ).assign(trip_completed=1).to_parquet(tmp_path / "orders.parquet", index=False)
    zero = OrdersSource(orders_path=str(tmp_path), training_window_days=0)

    with pytest.raises(OrdersError, match="window of 0 days holds no orders"):
        zero.count()
    assert zero.training_digest("o", "s") != combined_digest("o", "s")
