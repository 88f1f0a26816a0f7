"""training_job under each executor a deployment can choose, with real processes: one process
per step (multiprocess) and Celery workers on a Redis or a RabbitMQ broker. Each gives one
MLflow run per Dagster run, and the metrics of the default (in process) executor's run."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pytest
import yaml
from dagster import DagsterRunStatus

from training_assets.core import paths
from training_assets.defs.executors import EXECUTOR_ENV
from training_assets.defs.tags import PID_TAG
from training_assets_tests.e2e.cli import cli_run, finish, open_instance
from training_assets_tests.e2e.conftest import TRAINED_ONCE
from training_assets_tests.services import (
    REDIS_HOST,
    REDIS_PORT,
    rabbitmq_vhost,
    redis_database,
)

# The executors' tests share one in-process baseline run, on one worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("executors")]

EXPERIMENT = "driver-trip-completion"
METRICS = ("rmse", "mae", "baseline_rmse")
# Step processes forked from a server that imported the code location and the libraries its
# steps load, instead of each importing them again (what docs/operations.md recommends).
FORKSERVER = {
    "forkserver": {
        "preload_modules": [
            "training_assets.definitions",
            "feast",
            "duckdb",
            "mlflow.sklearn",
            "pyarrow.dataset",
        ]
    }
}


def mlflow_runs_by_dagster_run(client) -> dict[str, list]:
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    runs: dict[str, list] = {}
    for run in client.search_runs([experiment]):
        runs.setdefault(run.data.tags["dagster_run_id"], []).append(run)
    return runs


def only_run(instance, mlflow_client):
    """The instance's one Dagster run, succeeded, and its one finished MLflow run."""
    [dagster_run] = instance.get_runs()
    assert dagster_run.status == DagsterRunStatus.SUCCESS
    by_run = mlflow_runs_by_dagster_run(mlflow_client)
    assert list(by_run) == [dagster_run.run_id]
    [mlflow_run] = by_run[dagster_run.run_id]
    assert mlflow_run.info.status == "FINISHED"
    return dagster_run, mlflow_run


@pytest.fixture(scope="module")
def in_process_metrics(_trainings) -> dict[str, float]:
    """The metrics of training_job on the default sample under the default executor (in
    process), from the shared training of this test process: every executor must train the
    same model from it."""
    trained = _trainings(TRAINED_ONCE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(paths.WORKING_AREA_ENV, str(trained.working_area))
        store = paths.default_mlflow_dir() / "mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store}")
    _, mlflow_run = only_run(trained.instance, client)
    return {metric: mlflow_run.data.metrics[metric] for metric in METRICS}


def run_chosen(working_area, home, mlflow_client, name, config, env=None):
    """training_job under the executor that `config` and `env` choose; returns its Dagster
    run, its one MLflow run and the process that ran the command."""
    process, log = cli_run(working_area, home, name, env=env, config=config)
    assert finish(process, log) == 0, log.read_text()[-3000:]
    dagster_run, mlflow_run = only_run(open_instance(home), mlflow_client)
    return dagster_run, mlflow_run, process


def assert_same_metrics(expected: dict[str, float], run) -> None:
    for metric in METRICS:
        assert run.data.metrics[metric] == pytest.approx(expected[metric]), metric


def test_multiprocess_chosen_by_run_config(working_area, home, mlflow_client, in_process_metrics):
    config = {
        "execution": {"config": {"multiprocess": {"max_concurrent": 2, "start_method": FORKSERVER}}}
    }

    run, chosen, process = run_chosen(working_area, home, mlflow_client, "multiprocess", config)

    assert_same_metrics(in_process_metrics, chosen)
    # The run is claimed by the process that orchestrates it, not by a step process that
    # comes and goes: a healer would take the run for dead once that step was over.
    assert run.tags[PID_TAG].split(":")[0] == str(process.pid)
    steps = instance_step_pids(home, run.run_id)
    assert len(steps) > 1 and process.pid not in steps


def instance_step_pids(home: Path, run_id: str) -> set[int]:
    """The processes that ran the run's steps, as their step events record them."""
    records = open_instance(home).all_logs(run_id)
    return {
        record.dagster_event.pid
        for record in records
        if record.dagster_event is not None
        and record.dagster_event.event_type_value == "STEP_START"
    }


@contextmanager
def celery_broker(kind: str) -> Iterator[tuple[str, str]]:
    """(broker, result backend) URLs on the local Redis or RabbitMQ, of this test's own."""
    if kind == "redis":
        with redis_database() as index:
            url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{index}"
            yield url, url
    else:
        with rabbitmq_vhost() as url:
            yield url, "rpc://"


@pytest.mark.services
@pytest.mark.parametrize("broker_kind", ["redis", "rabbitmq"])
def test_celery_workers_on_a_broker_chosen_by_the_environment(
    working_area, home, mlflow_client, tmp_path, broker_kind, in_process_metrics
):
    with celery_broker(broker_kind) as (broker, backend):
        settings = {"execution": {"config": {"broker": broker, "backend": backend}}}
        worker_config = tmp_path / "celery.yaml"
        worker_config.write_text(yaml.safe_dump(settings))
        worker = start_celery_worker(working_area, home, worker_config, tmp_path / "worker.log")
        try:
            run, chosen, _ = run_chosen(
                working_area, home, mlflow_client, "celery", settings, {EXECUTOR_ENV: "celery"}
            )
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)

    assert_same_metrics(in_process_metrics, chosen)
    # The steps ran on the worker, not in the process that launched the run.
    assert instance_step_pids(home, run.run_id).isdisjoint({int(run.tags[PID_TAG].split(":")[0])})


def start_celery_worker(area: Path, home: Path, config: Path, log: Path) -> subprocess.Popen:
    bin_dir = Path(sys.executable).parent
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    environment.update(
        {
            "DAGSTER_HOME": str(home),
            paths.WORKING_AREA_ENV: str(area),
            EXECUTOR_ENV: "celery",
            # dagster-celery starts the `celery` command of this environment.
            "PATH": f"{bin_dir}{os.pathsep}{environment.get('PATH', '')}",
        }
    )
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [
                str(bin_dir / "dagster-celery"),
                "worker",
                "start",
                "-A",
                "dagster_celery.app",
                "-y",
                str(config),
                "-l",
                "info",
                "--",
                "--concurrency",
                "1",
            ],
            cwd=paths.PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while "ready." not in log.read_text():
        assert worker.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    return worker
