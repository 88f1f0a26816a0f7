"""Runs that cannot hurt each other, with real processes: `dagster job execute` runs at once,
runs killed with SIGKILL at named points and healed, an MLflow server stopped mid-run, and a
password in the tracking URI searched for in every store and log afterwards."""

import signal
import time

import mlflow
import pytest
from dagster import AssetKey, DagsterRunStatus, RunsFilter, build_sensor_context

from training_assets.core import faults
from training_assets.defs.automation.sensors import dead_run_sensor, new_training_data_sensor
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.defs.resources.orders import OrdersSource
from training_assets.defs.tags import DIED_TAG
from training_assets_tests.e2e.cli import (
    JOB,
    MATERIALIZE_ALL,
    RUN_TIMEOUT_S,
    cli_run,
    finish,
    open_instance,
)
from training_assets_tests.e2e.servers import MlflowServer, mlflow_server

pytestmark = pytest.mark.slow

MODEL_NAME = "sklearn-elastic-net-reg"


def alpha(model: float) -> dict:
    return {"ops": {"trained_model": {"config": {"alpha": model}}}}


# Three runs at once: two `dagster job execute` runs and what "Materialize all" in the UI
# launches, each with a model of its own alpha.
LAUNCHES = {
    "first": (JOB, 0.05),
    "second": (JOB, 0.5),
    "materialize_all": ((*MATERIALIZE_ALL, "group:training"), 0.45),
}


def test_runs_at_once_each_register_only_their_own_model(working_area, home, mlflow_client):
    # The instance exists before the runs start, as after setup's first run; processes
    # creating a fresh SQLite instance at the same moment race on its schema, which is
    # Dagster's storage and not what this test is about.
    open_instance(home).dispose()
    started = [
        cli_run(working_area, home, name, config=alpha(model), launch=launch)
        for name, (launch, model) in LAUNCHES.items()
    ]
    codes = [finish(*run) for run in started]
    texts = {log.name: log.read_text() for _, log in started}
    logs = "\n".join(
        f"--- {name} (exit {code})\n{text[-3000:]}"
        for (name, text), code in zip(texts.items(), codes, strict=True)
    )

    instance = open_instance(home)
    runs = {run.run_id: run for run in instance.get_runs()}
    assert len(runs) == len(LAUNCHES), logs
    versions = mlflow_client.search_model_versions(f"name='{MODEL_NAME}'")
    assert versions, f"no run registered a model\n{logs}"
    registered_by = {}
    for version in versions:
        run = mlflow_client.get_run(version.run_id)
        dagster_run = runs[run.data.tags["dagster_run_id"]]
        # The version's model is the registering run's own: its alpha is that run's config.
        wanted = dagster_run.run_config["ops"]["trained_model"]["config"]["alpha"]
        assert float(run.data.params["alpha"]) == wanted
        assert dagster_run.status == DagsterRunStatus.SUCCESS, logs
        registered_by[dagster_run.run_id] = int(version.version)
    for run_id, run in runs.items():
        if run_id in registered_by:
            continue
        # A run that registered nothing failed, and only because another run got there
        # first: either the alias moved after its evaluation ("another run registered
        # meanwhile"), or it was evaluated against another run's model as champion.
        assert run.status == DagsterRunStatus.FAILURE, logs
        evaluations = instance.fetch_materializations(AssetKey("evaluation"), limit=10).records
        [evaluated] = [record for record in evaluations if record.run_id == run_id]
        champion = evaluated.asset_materialization.metadata.get("champion_version")
        [own_log] = [text for text in texts.values() if run_id in text]
        moved_meanwhile = "another run registered meanwhile" in own_log
        judged_against_other = champion is not None and champion.value in registered_by.values()
        assert moved_meanwhile or judged_against_other, (
            f"run {run_id} registered nothing, judged against champion {champion}\n{logs}"
        )
    # Each run's outputs sit in its own folder.
    folders = {p.name for p in (working_area / "assets" / "runs").iterdir()}
    assert folders == set(runs)


def test_a_run_killed_mid_training_is_healed_and_its_data_requested_again(
    working_area, home, mlflow_client
):
    killed, log = cli_run(working_area, home, "killed", {faults.KILL_AT_ENV: faults.TRAINING})
    assert finish(killed, log) == -signal.SIGKILL
    instance = open_instance(home)
    [run] = instance.get_runs(RunsFilter(job_name="training_job"))
    assert run.status == DagsterRunStatus.STARTED
    [orphan] = mlflow_client.search_runs(
        [mlflow_client.get_experiment_by_name("driver-trip-completion").experiment_id]
    )
    assert orphan.info.status == "RUNNING"

    resources = {
        "mlflow_store": MlflowStore(),
        "model_registry": ModelRegistry(),
        "orders_source": OrdersSource(),
        "feast": FeastResource(),
    }
    with build_sensor_context(instance=instance, resources=resources) as context:
        healed = dead_run_sensor(context)

    run = instance.get_run_by_id(run.run_id)
    assert run.status == DagsterRunStatus.FAILURE, healed
    assert run.tags[DIED_TAG] == "true"
    assert mlflow_client.get_run(orphan.info.run_id).info.status == "FAILED"
    # The new-data sensor asks for the dead run's data again (two ticks: files settle first).
    with build_sensor_context(instance=instance, resources=resources) as context:
        new_training_data_sensor(context)
        cursor = context.cursor
    with build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        result = new_training_data_sensor(context)
    [request] = result.run_requests
    assert request.run_key.endswith(f":after:{run.run_id}")


def test_a_kill_between_registration_and_alias_is_cleaned_up_by_the_next_run(
    working_area, home, mlflow_client
):
    killed, log = cli_run(working_area, home, "killed", {faults.KILL_AT_ENV: faults.AFTER_REGISTER})
    assert finish(killed, log) == -signal.SIGKILL
    [half_made] = mlflow_client.search_model_versions(f"name='{MODEL_NAME}'")
    assert not half_made.aliases

    again, again_log = cli_run(working_area, home, "again", config=alpha(0.45))
    assert finish(again, again_log) == 0, again_log.read_text()[-3000:]

    versions = mlflow_client.search_model_versions(f"name='{MODEL_NAME}'")
    assert [int(v.version) for v in versions] == [2], "the half-made version 1 is removed"
    assert int(mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion").version) == 2
    instance = open_instance(home)
    statuses = sorted(
        r.status.value for r in instance.get_runs(RunsFilter(job_name="training_job"))
    )
    assert statuses == ["FAILURE", "SUCCESS"]
    killed_mlflow_run = mlflow_client.get_run(half_made.run_id)
    assert killed_mlflow_run.info.status == "FAILED"


# A bound on elapsed time: run on one worker, never beside another test with such a bound.
@pytest.mark.xdist_group("elapsed_time_bounds")
def test_an_mlflow_server_stopped_mid_run_fails_the_run_fast_naming_the_server(
    working_area, home, tmp_path
):
    server = MlflowServer(tmp_path / "mlflow_server").start()
    try:
        process, log = cli_run(working_area, home, "outage", {"MLFLOW_TRACKING_URI": server.uri})
        instance = open_instance(home)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while (
            time.monotonic() < deadline
            and 'STEP_START - Started execution of step "trained_model"' not in log.read_text()
        ):
            assert process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        server.stop()
        stopped = time.monotonic()
        code = finish(process, log)
        took = time.monotonic() - stopped
    finally:
        server.stop()

    assert code != 0
    # The step's retries, then one request to end its MLflow run: within a minute.
    assert took < 60, f"took {took:.0f}s to fail"
    text = log.read_text()
    assert f"127.0.0.1:{server.port}" in text
    [run] = instance.get_runs(RunsFilter(job_name="training_job"))
    assert run.status == DagsterRunStatus.FAILURE

    # Back up, the next heal ends the run's MLflow run as FAILED.
    server.start()
    try:
        client = MlflowStore(tracking_uri=server.uri).configure_client()
        resources = {
            "mlflow_store": MlflowStore(tracking_uri=server.uri),
            "model_registry": ModelRegistry(),
        }
        with build_sensor_context(instance=instance, resources=resources) as context:
            dead_run_sensor(context)
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        assert [r.info.status for r in runs] == ["FAILED"]
    finally:
        server.stop()


def test_a_password_in_the_tracking_uri_is_written_nowhere(working_area, home, tmp_path):
    secret = "s3cret-Pa55word"
    with mlflow_server(tmp_path / "mlflow_server") as server:
        uri = server.uri.replace("http://", f"http://trainer:{secret}@")
        process, log = cli_run(working_area, home, "secret", {"MLFLOW_TRACKING_URI": uri})
        assert finish(process, log) == 0, log.read_text()[-3000:]
        client = mlflow.MlflowClient(tracking_uri=server.uri)
        assert client.search_model_versions(f"name='{MODEL_NAME}'"), "nothing registered"
        # Ended by the teardown's own request to the server, with the run's outcome.
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        assert [r.info.status for r in runs] == ["FINISHED"]

    places = [log, home, working_area, tmp_path / "mlflow_server"]
    leaks = []
    for place in places:
        files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
        leaks += [str(f) for f in files if secret.encode() in f.read_bytes()]
    assert leaks == []
