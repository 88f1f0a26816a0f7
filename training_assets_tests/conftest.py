"""Shared fixtures: a temporary working area with sample data, and a real Dagster instance."""

import shutil
from pathlib import Path

import mlflow
import pytest
from dagster import DagsterInstance

from training_assets.core import paths
from training_assets.core.data.sample_data import (
    SampleSpec,
    write_sample,
)


@pytest.fixture
def working_area(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working area holding the default sample; MLflow and Feast state go there too."""
    area = tmp_path / "var"
    monkeypatch.setenv(paths.WORKING_AREA_ENV, str(area))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    write_sample(
        SampleSpec(), paths.default_sample_orders_file(), paths.default_driver_stats_path()
    )
    yield area
    if mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME with the instance config the project ships."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(paths.PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home


@pytest.fixture
def instance(home: Path) -> DagsterInstance:
    """A real Dagster instance with sqlite storage in `home`."""
    with DagsterInstance.local_temp(str(home)) as local:
        yield local


@pytest.fixture
def mlflow_client(working_area: Path) -> mlflow.MlflowClient:
    """A client on the working area's embedded MLflow store."""
    from training_assets.defs.resources.mlflow import MlflowStore

    return MlflowStore().configure_client()
