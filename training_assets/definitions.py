"""The code location: assets, gates, jobs and resources on the embedded defaults."""

from dagster import Definitions, in_process_executor, load_asset_checks_from_modules

from training_assets.assets import (
    evaluation,
    feature_store,
    model,
    registry,
    sources,
    splits,
    training_data,
)
from training_assets.checks import champion_gates, data_gates, model_gates
from training_assets.config import DriftSettings, GateThresholds
from training_assets.jobs import training_job
from training_assets.resources.feast import FeastResource
from training_assets.resources.io_managers import JsonIOManagerResource, ParquetIOManagerResource
from training_assets.resources.mlflow import MlflowStore, MlflowTracking, ModelRegistry
from training_assets.resources.orders import OrdersSource
from training_assets.schedules import weekly_training_schedule
from training_assets.sensors import drift_retrain_sensor, new_training_data_sensor

mlflow_store = MlflowStore()

defs = Definitions(
    assets=[
        sources.orders,
        sources.driver_stats_source,
        feature_store.feature_store,
        training_data.training_data,
        splits.splits,
        model.trained_model,
        evaluation.evaluation,
        registry.registered_model_version,
    ],
    asset_checks=load_asset_checks_from_modules([data_gates, model_gates, champion_gates]),
    jobs=[training_job],
    sensors=[new_training_data_sensor, drift_retrain_sensor],
    schedules=[weekly_training_schedule],
    resources={
        "feast": FeastResource(),
        "orders_source": OrdersSource(),
        "mlflow_store": mlflow_store,
        "mlflow_tracking": MlflowTracking(store=mlflow_store),
        "model_registry": ModelRegistry(),
        "gates": GateThresholds(),
        "drift_settings": DriftSettings(),
        "io_manager": ParquetIOManagerResource(),
        "json_io_manager": JsonIOManagerResource(),
    },
    # Materializations started from the UI take the same single-process path as training_job.
    executor=in_process_executor,
)
