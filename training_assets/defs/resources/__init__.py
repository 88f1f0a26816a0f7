"""Resources: the Feast store, MLflow tracking, the orders location, the gate thresholds and the
IO managers, under the keys the assets and checks ask for."""

from pathlib import Path
from typing import Any, get_args

from dagster import EnvVar

from training_assets.core import settings

# MlflowStore's fields that MLflow's own variables (and ours for the UI) may set.
MLFLOW_STORE_ENV = {
    "tracking_uri": settings.MLFLOW_TRACKING_URI_ENV,
    "registry_uri": settings.MLFLOW_REGISTRY_URI_ENV,
    "ui_url": settings.MLFLOW_UI_ENV,
}


def from_environment(fields: dict[str, str]) -> dict[str, EnvVar]:
    """`EnvVar` for each field whose variable the environment sets, so the launchpad shows the
    variable a value comes from (and never the value: a URI may hold a password). A field whose
    variable is unset is left to its default: Dagster fails a run on an EnvVar of an unset
    variable."""
    return {
        field: EnvVar(variable) for field, variable in fields.items() if settings.value(variable)
    }


def orders_window_from_environment() -> dict[str, EnvVar]:
    """The training window from its variable when set (an integer field takes `EnvVar.int`)."""
    variable = settings.TRAINING_WINDOW_ENV
    return {"training_window_days": EnvVar.int(variable)} if settings.value(variable) else {}


def registry_policy_from_environment() -> dict:
    """The promotion policy and the live rollback switch from their variables when set, read
    when the code location loads (neither is a secret, and EnvVar cannot stand for a field of
    a few allowed values, or a bool).

    Raises:
        ValueError: naming the variable, its value and the values it takes.
    """
    from training_assets.defs.resources.mlflow import ModelRegistry

    found: dict = {}
    policy = settings.value(settings.PROMOTION_ENV)
    if policy is not None:
        # The policies the field itself allows: one list of them, on ModelRegistry.
        allowed = get_args(ModelRegistry.model_fields["promotion"].annotation)
        if policy not in allowed:
            raise ValueError(
                f"{settings.PROMOTION_ENV} is {policy!r}; it takes one of "
                f"{', '.join(allowed)} (unset: automatic)"
            )
        found["promotion"] = policy
    # Read by live_rollback_sensor, whose resources no run config reaches.
    rollback = settings.switch(settings.ROLLBACK_ENV)
    if rollback is not None:
        found["rollback_on_live_regression"] = rollback
    return found


def gate_thresholds_from_file() -> dict:
    """The gate thresholds of the YAML file `TRAINING_ASSETS_GATES_FILE` names, read when the
    code location loads: the defaults of every run, and the only thresholds the live sensors
    (shadow promotion, rollback) see, since no run config reaches a sensor.

    Raises:
        ValueError: naming the file and what is wrong with it (unreadable, not a mapping, a
            key that is no threshold, a value out of range).
    """
    import yaml

    from training_assets.core.gates.limits import GateLimits

    location = settings.value(settings.GATES_FILE_ENV)
    if location is None:
        return {}
    try:
        values = yaml.safe_load(Path(location).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{settings.GATES_FILE_ENV}={location}: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(
            f"{settings.GATES_FILE_ENV}={location}: expected a mapping of thresholds, "
            f"found {type(values).__name__}"
        )
    unknown = sorted(set(values) - set(GateLimits.model_fields))
    if unknown:
        raise ValueError(
            f"{settings.GATES_FILE_ENV}={location}: {', '.join(map(str, unknown))} "
            "is no gate threshold (see core/gates/limits.py)"
        )
    try:
        GateLimits(**values)
    except ValueError as error:
        raise ValueError(f"{settings.GATES_FILE_ENV}={location}: {error}") from None
    return values


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
    mlflow_store = MlflowStore.configure_at_launch(**from_environment(MLFLOW_STORE_ENV))
    return {
        "feast": FeastResource(),
        "orders_source": OrdersSource(**orders_window_from_environment()),
        "batch_requests": BatchRequests(),
        "mlflow_store": mlflow_store,
        "mlflow_tracking": MlflowTracking(store=mlflow_store),
        "model_registry": ModelRegistry(**registry_policy_from_environment()),
        "gates": GateThresholds(**gate_thresholds_from_file()),
        "drift_settings": DriftSettings(),
        "prediction_log": PredictionLogResource(
            **from_environment({"location": settings.PREDICTION_LOG_URL_ENV})
        ),
        "monitoring": MonitoringSettings(),
        "io_manager": ParquetIOManagerResource(),
        "json_io_manager": JsonIOManagerResource(),
    }
