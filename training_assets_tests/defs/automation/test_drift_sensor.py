"""The drift sensor against a champion trained for real on the sample data."""

import numpy as np
import pandas as pd
import pytest
from dagster import RunRequest, SkipReason, build_sensor_context

from training_assets.core import paths
from training_assets.core.data.sample_data import STATS_END
from training_assets.definitions import defs
from training_assets.defs.automation.sensors import drift_retrain_sensor
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.gates import DriftSettings
from training_assets.defs.resources.mlflow import (
    MlflowStore,
    ModelRegistry,
)
from training_assets.defs.resources.orders import OrdersSource


def evaluate(instance, **settings):
    context = build_sensor_context(
        instance=instance,
        resources={
            "orders_source": OrdersSource(),
            "feast": FeastResource(),
            "mlflow_store": MlflowStore(),
            "model_registry": ModelRegistry(),
            "drift_settings": DriftSettings(**settings),
        },
    )
    return drift_retrain_sensor(context)


def shift_recent_conversion() -> None:
    """Drivers started converting far more often over the last day and a half."""
    stats_path = paths.default_driver_stats_path()
    stats = pd.read_parquet(stats_path)
    recent = stats["datetime"] > STATS_END - pd.Timedelta(hours=36)
    shifted = np.clip(stats.loc[recent, "conv_rate"] + 0.35, 0, 1)
    stats.loc[recent, "conv_rate"] = shifted.astype("float32")
    stats.to_parquet(stats_path, index=False)


@pytest.fixture
def champion(working_area, instance):
    result = defs.resolve_job_def("training_job").execute_in_process(instance=instance)
    assert result.success
    return result.output_for_node("registered_model_version")


def test_skips_with_a_reason_when_there_is_no_champion(working_area, instance):
    result = evaluate(instance)

    assert isinstance(result, SkipReason)
    assert "no champion yet" in result.skip_message


def test_no_request_on_data_from_the_training_distribution(champion, instance):
    result = evaluate(instance)

    assert isinstance(result, SkipReason)
    assert "no drift" in result.skip_message
    for feature in ("conv_rate", "acc_rate", "avg_daily_trips"):
        assert feature in result.skip_message


def test_request_with_the_figures_when_recent_features_shift(champion, instance):
    shift_recent_conversion()

    result = evaluate(instance)

    assert isinstance(result, RunRequest)
    assert result.tags["training_assets/trigger"] == "drift"
    assert result.tags["training_assets/champion_version"] == str(champion.version)
    assert float(result.tags["training_assets/psi_conv_rate"]) > 0.2
    assert float(result.tags["training_assets/psi_acc_rate"]) < 0.2
    assert result.run_key.startswith(f"drift-v{champion.version}-")


def test_a_higher_threshold_tolerates_the_same_shift(champion, instance):
    shift_recent_conversion()

    result = evaluate(instance, psi_threshold=50.0)

    assert isinstance(result, SkipReason)
    assert "no drift above 50.0" in result.skip_message
