"""Resources: the Feast store, MLflow tracking, the orders location, the gate thresholds and the
IO managers, under the keys the assets and checks ask for."""

from typing import Any


def embedded_defaults() -> dict[str, Any]:
    """Every resource on the embedded defaults: local Feast, a sqlite MLflow store, files under
    the working area. Run config and the environment move each of them."""
    from training_assets.defs.resources.batch_requests import BatchRequests
    from training_assets.defs.resources.feast import FeastResource
    from training_assets.defs.resources.gates import DriftSettings, GateThresholds
    from training_assets.defs.resources.io_managers import (
        JsonIOManagerResource,
        ParquetIOManagerResource,
    )
    from training_assets.defs.resources.mlflow import MlflowStore, MlflowTracking, ModelRegistry
    from training_assets.defs.resources.monitoring import MonitoringSettings
    from training_assets.defs.resources.orders import OrdersSource
    from training_assets.defs.resources.prediction_log import PredictionLogResource

    # Configured at launch, so that run config under `mlflow_store` also reaches the copy that
    # mlflow_tracking holds: a store built here would be a separate, fixed instance there.
    mlflow_store = MlflowStore.configure_at_launch()
    return {
        "feast": FeastResource(),
        "orders_source": OrdersSource(),
        "batch_requests": BatchRequests(),
        "mlflow_store": mlflow_store,
        "mlflow_tracking": MlflowTracking(store=mlflow_store),
        "model_registry": ModelRegistry(),
        "gates": GateThresholds(),
        "drift_settings": DriftSettings(),
        "prediction_log": PredictionLogResource(),
        "monitoring": MonitoringSettings(),
        "io_manager": ParquetIOManagerResource(),
        "json_io_manager": JsonIOManagerResource(),
    }
