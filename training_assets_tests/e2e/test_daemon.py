"""End to end with the real daemon: dropping an orders file into the watched folder trains
once, through every gate, and dropping the same content again trains nothing."""

import shutil
import time

import pytest
from dagster import DagsterRunStatus, RunsFilter

from training_assets.core import paths
from training_assets_tests.e2e.servers import dagster_dev

pytestmark = pytest.mark.slow

RUN_TIMEOUT_S = 300
SENSOR = "new_training_data_sensor"
# Ticks after a change that the sensor needs to see it settle and decide: one sees the file
# change, the next sees it settled; one more for a tick that was under way at the change.
TICKS_TO_DECIDE = 3


@pytest.fixture
def server(working_area, tmp_path, mlflow_client):
    # The MLflow store is made before the server starts: its sensors open the store on their
    # first tick, and a store made by both at once is a corrupt one.
    incoming = tmp_path / "incoming.parquet"
    shutil.move(paths.default_sample_orders_file(), incoming)
    with dagster_dev(working_area, tmp_path, {"NEW_DATA_SENSOR_INTERVAL_SECONDS": "2"}) as running:
        running.incoming = incoming
        yield running


def training_runs(server):
    with server.instance() as instance:
        return instance.get_runs(RunsFilter(job_name="training_job"))


def finished_ticks_since(server, since: float) -> int:
    """The sensor's ticks that started after `since` (a timestamp) and are over."""
    with server.instance() as instance:
        states = [s for s in instance.all_instigator_state() if s.instigator_name == SENSOR]
        if not states:
            return 0
        [state] = states
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, after=since)
        return sum(1 for tick in ticks if tick.status.value != "STARTED")


def test_a_dropped_orders_file_trains_exactly_once(server, mlflow_client):
    dropped = paths.default_orders_path() / "orders-2026-01-01.parquet"
    shutil.copy(server.incoming, dropped)

    deadline = time.monotonic() + RUN_TIMEOUT_S
    runs = []
    while time.monotonic() < deadline:
        runs = training_runs(server)
        if runs and runs[0].status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE):
            break
        time.sleep(2)

    assert len(runs) == 1, server.log_tail()
    [run] = runs
    assert run.status == DagsterRunStatus.SUCCESS, server.log_tail()
    assert run.tags["training_assets/trigger"] == "new_data"
    assert run.tags["dagster/sensor_name"] == "new_training_data_sensor"
    champion = mlflow_client.get_model_version_by_alias("sklearn-elastic-net-reg", "champion")
    assert int(champion.version) == 1
    assert mlflow_client.get_run(champion.run_id).data.tags["dagster_run_id"] == run.run_id

    # The same content dropped again: the sensor sees the change, settles, and requests nothing.
    copied = time.time()
    shutil.copy(server.incoming, dropped)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while finished_ticks_since(server, copied) < TICKS_TO_DECIDE:
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(1)
    assert len(training_runs(server)) == 1
    assert len(mlflow_client.search_model_versions("name='sklearn-elastic-net-reg'")) == 1
