"""The outcomes sensor, tick by tick on a real temporary instance: new labels reach the days
of logged predictions within the lookback window before the newest order, and no others."""

from datetime import UTC, datetime

import pandas as pd
from dagster import SensorResult, build_sensor_context

from training_assets.core.monitoring.prediction_log import (
    BATCH,
    CHAMPION,
    ParquetSink,
    Prediction,
    as_table,
    new_prediction_id,
)
from training_assets.defs.automation.sensors import outcomes_sensor
from training_assets.defs.resources.monitoring import MonitoringSettings
from training_assets.defs.resources.orders import OrdersSource
from training_assets.defs.resources.prediction_log import PredictionLogResource


def logged(sink: ParquetSink, *days: str) -> None:
    rows = [
        Prediction(
            new_prediction_id(), BATCH, CHAMPION, 1001,
            datetime.fromisoformat(f"{day}T12:00:00+00:00"), "m", 1, {}, True, 0.5,
            datetime.now(UTC),
        )
        for day in days
    ]  # fmt: skip
    sink.write(as_table(rows, "w", 1))


def orders_file(path, *times: str) -> None:
    pd.DataFrame(
        {
            "event_timestamp": pd.to_datetime(list(times), utc=True),
            "driver_id": [1001] * len(times),
            "trip_completed": [1] * len(times),
        }
    ).to_parquet(path, index=False)


class Ticker:
    def __init__(self, instance, orders_dir, log_dir):
        self.instance, self.cursor = instance, None
        self.resources = {
            "orders_source": OrdersSource(orders_path=str(orders_dir)),
            "prediction_log": PredictionLogResource(location=str(log_dir)),
            "monitoring": MonitoringSettings(lookback_days=7),
        }

    def __call__(self) -> list[str]:
        context = build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=self.resources
        )
        result = outcomes_sensor(context)
        self.cursor = context.cursor
        if isinstance(result, SensorResult):
            return sorted(request.partition_key for request in result.run_requests)
        return []


def test_new_labels_reach_the_logged_days_within_the_window_only(tmp_path, instance):
    orders_dir, log_dir = tmp_path / "orders", tmp_path / "log"
    orders_dir.mkdir()
    logged(ParquetSink(log_dir), "2025-12-10", "2025-12-16", "2025-12-20")
    # Orders up to the 22nd: the window is the 16th to the 22nd.
    orders_file(
        orders_dir / "a.parquet",
        "2025-12-10T12:00:00Z",
        "2025-12-16T00:00:00Z",
        "2025-12-22T23:00:00Z",
    )
    tick = Ticker(instance, orders_dir, log_dir)

    assert tick() == []  # seen, settling
    assert tick() == ["2025-12-16"]  # the 10th is out of the window; the 22nd logged nothing
    assert tick() == []

    # Late labels for the 10th and the 20th, in a file of their own: only the 20th is within
    # the window, counted back from the newest order (the cursor's, not read again).
    orders_file(orders_dir / "b.parquet", "2025-12-10T12:00:00Z", "2025-12-20T12:00:00Z")
    assert tick() == []
    assert tick() == ["2025-12-20"]
    assert tick() == []


def test_days_with_nothing_logged_ask_for_nothing(tmp_path, instance):
    orders_dir, log_dir = tmp_path / "orders", tmp_path / "log"
    orders_dir.mkdir()
    orders_file(orders_dir / "a.parquet", "2025-12-20T12:00:00Z")
    tick = Ticker(instance, orders_dir, log_dir)
    assert tick() == [] and tick() == []
