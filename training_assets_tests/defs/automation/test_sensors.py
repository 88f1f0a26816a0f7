"""The new-data sensor, evaluated tick by tick on a real temporary instance."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetMaterialization, SensorResult, SkipReason, build_sensor_context

from training_assets.core import paths
from training_assets.core.data import fingerprints, orders
from training_assets.defs.automation.sensors import new_training_data_sensor
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.orders import OrdersSource


class Ticker:
    """Evaluates the sensor the way the daemon does: each tick starts from the last cursor."""

    def __init__(self, instance, orders_dir: Path, stats_path: Path):
        self.instance = instance
        self.cursor = None
        self.resources = {
            "orders_source": OrdersSource(orders_path=str(orders_dir)),
            "feast": FeastResource(driver_stats_path=str(stats_path)),
        }

    def tick(self):
        context = build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=self.resources
        )
        result = new_training_data_sensor(context)
        if isinstance(result, SensorResult) and result.cursor is not None:
            self.cursor = result.cursor
        else:
            self.cursor = context.cursor
        return result

    def settle(self):
        """Two ticks: one to see the files, one to find them unchanged."""
        first = self.tick()
        assert _skipped(first), f"first sight of changed files must wait, got {first}"
        return self.tick()


def _skipped(result) -> bool:
    return isinstance(result, SkipReason) or (
        isinstance(result, SensorResult) and not result.run_requests
    )


def _requests(result):
    return result.run_requests if isinstance(result, SensorResult) else []


def expected_key(orders_dir: Path, stats_path: Path) -> str:
    return fingerprints.combined_digest(
        fingerprints.content_digest(orders.order_files(orders_dir)),
        fingerprints.content_digest([stats_path]),
    )


@pytest.fixture
def watched(working_area, tmp_path):
    """An empty watched orders folder, the sample orders kept aside to drop into it."""
    sample = tmp_path / "incoming.parquet"
    shutil.move(paths.default_sample_orders_file(), sample)
    return paths.default_orders_path(), paths.default_driver_stats_path(), sample


def test_no_request_while_there_are_no_orders(watched, instance):
    orders_dir, stats_path, _ = watched
    ticker = Ticker(instance, orders_dir, stats_path)

    for _ in range(3):
        result = ticker.tick()
        assert isinstance(result, SkipReason)
        assert "no orders files" in result.skip_message


def test_one_request_per_new_orders_file_and_none_for_the_same_content(watched, instance):
    orders_dir, stats_path, sample = watched
    ticker = Ticker(instance, orders_dir, stats_path)
    ticker.tick()

    shutil.copy(sample, orders_dir / "2026-01-01.parquet")
    result = ticker.settle()

    [request] = _requests(result)
    assert request.run_key == expected_key(orders_dir, stats_path)
    assert request.tags["training_assets/orders_version"] == fingerprints.content_digest(
        orders.order_files(orders_dir)
    )
    assert request.tags["training_assets/driver_stats_version"] == fingerprints.content_digest(
        [stats_path]
    )
    # The source assets are observed with their new data versions.
    observed = {event.asset_key.to_user_string(): event.tags for event in result.asset_events}
    assert (
        observed["orders"]["dagster/data_version"] == request.tags["training_assets/orders_version"]
    )

    # Nothing changed: no request, on any later tick.
    for _ in range(3):
        assert _skipped(ticker.tick())

    # The same bytes copied over the same file again: a new mtime, the same content.
    shutil.copy(sample, orders_dir / "2026-01-01.parquet")
    assert _skipped(ticker.settle())

    # A genuinely new file: a new request with another key.
    frame = pd.read_parquet(sample).iloc[:500]
    frame.to_parquet(orders_dir / "2026-01-02.parquet", index=False)
    [second] = _requests(ticker.settle())
    assert second.run_key == expected_key(orders_dir, stats_path)
    assert second.run_key != request.run_key


def test_a_changed_feature_file_requests_a_new_run(watched, instance):
    orders_dir, stats_path, sample = watched
    shutil.copy(sample, orders_dir / "orders.parquet")
    ticker = Ticker(instance, orders_dir, stats_path)
    [first] = _requests(ticker.settle())

    stats = pd.read_parquet(stats_path)
    stats["conv_rate"] = (stats["conv_rate"] * 0.9).astype("float32")
    stats.to_parquet(stats_path, index=False)
    [second] = _requests(ticker.settle())

    assert second.run_key != first.run_key
    assert (
        second.tags["training_assets/orders_version"]
        == first.tags["training_assets/orders_version"]
    )
    assert (
        second.tags["training_assets/driver_stats_version"]
        != first.tags["training_assets/driver_stats_version"]
    )


def test_a_file_still_being_written_is_not_picked_up(watched, instance):
    orders_dir, stats_path, sample = watched
    ticker = Ticker(instance, orders_dir, stats_path)
    ticker.tick()
    content = sample.read_bytes()
    target = orders_dir / "landing.parquet"

    # Under a temporary name the file is invisible, however long it sits there.
    temporary = orders_dir / ".landing.parquet.part"
    temporary.write_bytes(content[: len(content) // 2])
    assert _skipped(ticker.tick())
    assert _skipped(ticker.tick())

    # Written in place in pieces: no request while its size changes between ticks.
    with target.open("wb") as handle:
        handle.write(content[: len(content) // 3])
        handle.flush()
        assert _skipped(ticker.tick())
        handle.write(content[len(content) // 3 : 2 * len(content) // 3])
        handle.flush()
        assert _skipped(ticker.tick())
        handle.write(content[2 * len(content) // 3 :])
    temporary.unlink()
    result = ticker.settle()

    [request] = _requests(result)
    assert request.run_key == expected_key(orders_dir, stats_path)
    assert pd.read_parquet(target).equals(pd.read_parquet(sample))


def test_data_already_trained_on_is_not_requested_again(watched, instance):
    orders_dir, stats_path, sample = watched
    shutil.copy(sample, orders_dir / "orders.parquet")
    digest = expected_key(orders_dir, stats_path)
    # As the training_data asset records it when a run (from the CLI, say) read this data.
    instance.report_runless_asset_event(
        AssetMaterialization("training_data", metadata={"data_digest": digest})
    )
    ticker = Ticker(instance, orders_dir, stats_path)

    result = ticker.settle()

    assert _skipped(result)
    assert "already trained" in result.skip_reason.skip_message
    assert json.loads(ticker.cursor)["digest"] == digest


def test_sensor_intervals_are_read_when_the_code_location_builds_them(monkeypatch):
    """Importing the sensors reads no environment; building the code location's does, and a
    bad interval is named with its variable."""
    import importlib

    from training_assets.defs.automation import sensors

    monkeypatch.setenv("NEW_DATA_SENSOR_INTERVAL_SECONDS", "soon")
    importlib.reload(sensors)
    with pytest.raises(ValueError, match="NEW_DATA_SENSOR_INTERVAL_SECONDS must be a positive"):
        sensors.code_location_sensors()
    monkeypatch.setenv("NEW_DATA_SENSOR_INTERVAL_SECONDS", "7")
    intervals = {s.name: s.minimum_interval_seconds for s in sensors.code_location_sensors()}
    assert intervals["new_training_data_sensor"] == 7
    assert intervals["drift_retrain_sensor"] == 3600
