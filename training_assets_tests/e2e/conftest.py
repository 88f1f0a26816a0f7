"""One default training of the sample, made once per test process and shared by the tests that
only read what it left: its run's result, events and outputs, the MLflow store and the links.

A test that changes anything (a second run, an edited file, a moved alias) trains in its own
working area instead; the tests that share this one are in the xdist group TRAINED_ONCE, so that
they land on one worker and it trains once.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from dagster import DagsterInstance, ExecuteInProcessResult

from training_assets.core import paths
from training_assets.core.data.sample_data import SampleSpec, write_sample
from training_assets.definitions import defs
from training_assets.defs import links
from training_assets_tests.conftest import copy_empty_mlflow_db

TRAINED_ONCE = "trained_once"
MLFLOW_UI = "https://mlflow.example.internal"
DAGSTER_UI = "https://dagster.example.internal/"


@dataclass
class TrainedOnce:
    working_area: Path
    instance: DagsterInstance
    result: ExecuteInProcessResult
    mlflow_client: mlflow.MlflowClient


def _pointed_at(patch: pytest.MonkeyPatch, area: Path) -> None:
    """The working area `area`, with the UI addresses the link tests look for."""
    patch.setenv(paths.WORKING_AREA_ENV, str(area))
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    patch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    patch.setenv(links.MLFLOW_UI_ENV, MLFLOW_UI)
    patch.setenv(links.DAGSTER_UI_ENV, DAGSTER_UI)


@pytest.fixture(scope="session")
def trained_once_run(tmp_path_factory: pytest.TempPathFactory, empty_mlflow_db: Path):
    from training_assets.defs.resources.mlflow import MlflowStore

    root = tmp_path_factory.mktemp(TRAINED_ONCE)
    area = root / "var"
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(paths.PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as patch, DagsterInstance.local_temp(str(home)) as instance:
        _pointed_at(patch, area)
        write_sample(
            SampleSpec(), paths.default_sample_orders_file(), paths.default_driver_stats_path()
        )
        copy_empty_mlflow_db(empty_mlflow_db, paths.default_mlflow_dir() / "mlflow.db")
        MlflowStore().configure_client()
        job = defs.resolve_job_def("training_job")
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        if mlflow.active_run() is not None:
            mlflow.end_run()
        yield area, instance, result


@pytest.fixture
def trained_once(trained_once_run, monkeypatch: pytest.MonkeyPatch) -> TrainedOnce:
    """The shared training, with this process pointed at its working area and MLflow store for
    the test's length."""
    from training_assets.defs.resources.mlflow import MlflowStore

    area, instance, result = trained_once_run
    _pointed_at(monkeypatch, area)
    client = MlflowStore().configure_client()
    yield TrainedOnce(area, instance, result, client)
    mlflow.set_tracking_uri(None)
