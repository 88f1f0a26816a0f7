"""Trainings of the sample made once per test process and shared by the tests that only read
what they left: the runs' results, events and outputs, the MLflow store and the links.

A test that changes anything (another run, an edited file, a moved alias) trains in its own
working area instead. The tests that share a training are in an xdist group named for it, so
that they land on one worker and it trains once.
"""

import shutil
from contextlib import ExitStack
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

# The shared trainings: a name, and the run config of each run made one after another.
TRAINED_ONCE = "trained_once"
TRAINED_TWICE = "trained_twice"
TRAINED_THEN_ALPHA_045 = "trained_then_alpha_0.45"
ALPHA_045 = {"ops": {"trained_model": {"config": {"alpha": 0.45}}}}
RUNS = {
    TRAINED_ONCE: (None,),
    TRAINED_TWICE: (None, None),
    TRAINED_THEN_ALPHA_045: (None, ALPHA_045),
}
MLFLOW_UI = "https://mlflow.example.internal"
DAGSTER_UI = "https://dagster.example.internal/"


@dataclass
class Trained:
    working_area: Path
    instance: DagsterInstance
    results: list[ExecuteInProcessResult]
    mlflow_client: mlflow.MlflowClient | None = None

    @property
    def result(self) -> ExecuteInProcessResult:
        return self.results[-1]


def _pointed_at(patch: pytest.MonkeyPatch, area: Path) -> None:
    """The working area `area`, with the UI addresses the link tests look for."""
    patch.setenv(paths.WORKING_AREA_ENV, str(area))
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    patch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    patch.setenv(links.MLFLOW_UI_ENV, MLFLOW_UI)
    patch.setenv(links.DAGSTER_UI_ENV, DAGSTER_UI)


def _train(root: Path, empty_mlflow_db: Path, stack: ExitStack, run_configs) -> Trained:
    area, home = root / "var", root / "dagster_home"
    home.mkdir()
    shutil.copy(paths.PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    instance = stack.enter_context(DagsterInstance.local_temp(str(home)))
    with pytest.MonkeyPatch.context() as patch:
        _pointed_at(patch, area)
        write_sample(
            SampleSpec(), paths.default_sample_orders_file(), paths.default_driver_stats_path()
        )
        copy_empty_mlflow_db(empty_mlflow_db, paths.default_mlflow_dir() / "mlflow.db")
        job = defs.resolve_job_def("training_job")
        results = [
            job.execute_in_process(instance=instance, run_config=config, raise_on_error=False)
            for config in run_configs
        ]
    return Trained(area, instance, results)


@pytest.fixture(scope="session")
def _trainings(tmp_path_factory: pytest.TempPathFactory, empty_mlflow_db: Path):
    made: dict[str, Trained] = {}

    def trained(name: str) -> Trained:
        if name not in made:
            root = tmp_path_factory.mktemp(name)
            made[name] = _train(root, empty_mlflow_db, stack, RUNS[name])
        return made[name]

    with ExitStack() as stack:
        yield trained


@pytest.fixture
def shared_training(_trainings, monkeypatch: pytest.MonkeyPatch):
    """`shared_training(name)`: the shared training `name`, made on first use, with this process
    pointed at its working area and MLflow store for the test's length."""
    from training_assets.defs.resources.mlflow import MlflowStore

    def pointed(name: str) -> Trained:
        trained = _trainings(name)
        _pointed_at(monkeypatch, trained.working_area)
        trained.mlflow_client = MlflowStore().configure_client()
        return trained

    return pointed
