"""Shared fixtures: a temporary working area with sample data, and a real Dagster instance."""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pytest
from _pytest.nodeid import NodeId
from dagster import DagsterInstance

from training_assets.core import paths
from training_assets.core.data.sample_data import (
    SampleSpec,
    write_sample,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker under `--dist loadgroup`, suffix each test's id with its xdist_group,
    which is how the scheduler knows the group. pytest-xdist 3.8 sets `item._nodeid` for that,
    which pytest 9 no longer reads (a node's id is `item._id`), so without this every group
    would be scattered over the workers."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if names and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(names))}")


@pytest.fixture(scope="session", autouse=True)
def default_working_area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working area of a test that asks for none of its own (the offline store's DuckDB
    spill folder, a step's staging folder): one of this test process's, never the checkout's
    var/, which another worker or a `dagster dev` of the user's may be writing in."""
    area = tmp_path_factory.mktemp("default_working_area")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(paths.WORKING_AREA_ENV, str(area))
        yield area


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


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow sqlite store with MLflow's tables and nothing else, made once per test process.

    A test's store that exists before its code runs starts as a copy of it: MLflow's migrations
    of a new file take over a second, paid once here instead of once a test. The copy is what a
    first open makes (the tables and MLflow's own Default experiment), and the file is never
    opened again after it is made.
    """
    path = tmp_path_factory.mktemp("empty_mlflow") / "mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}")
    client.search_experiments()
    return path


@contextmanager
def mlflow_pointed_at(uri: str) -> Iterator[None]:
    """mlflow's own process-wide API pointed at the store `uri` for the block, as a user's
    notebook points it: for reading or editing MLflow state by hand, never around the
    pipeline's code, which must need no such setting."""
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)


def copy_empty_mlflow_db(template: Path, target: Path) -> None:
    """The template copied to `target`, which must not exist yet: a store that exists was made
    by a process started before the copy (a server whose sensors read the registry), and copying
    over a file that process has open leaves a store neither of them made."""
    if target.exists():
        raise FileExistsError(
            f"{target} exists before the test's copy of the empty MLflow store: start the "
            "test's processes after the mlflow_client fixture"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)


@pytest.fixture
def mlflow_client(working_area: Path, empty_mlflow_db: Path) -> mlflow.MlflowClient:
    """A client on the working area's embedded MLflow store, made before the test's code runs."""
    from training_assets.defs.resources.mlflow import MlflowStore

    copy_empty_mlflow_db(empty_mlflow_db, paths.default_mlflow_dir() / "mlflow.db")
    return MlflowStore().configure_client()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker more than pytest-xdist would start (one per core), unless
    PYTEST_XDIST_AUTO_NUM_WORKERS sets the count. Several tests spend seconds on a server's
    timeout or a sensor's interval with the CPU idle, and the spare worker fills that time."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own hook reads it
    from xdist.plugin import pytest_xdist_auto_num_workers as one_per_core

    return one_per_core(config) + 1
