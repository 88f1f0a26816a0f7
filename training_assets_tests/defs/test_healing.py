"""Healing with a real Dagster instance and a real MLflow store: which MLflow runs are orphans."""

from dagster import DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

from training_assets.defs import healing
from training_assets.defs.tags import DAGSTER_RUN_TAG


def running_mlflow_run_of(client, dagster_run_id: str) -> str:
    experiment = client.create_experiment(f"healing-{dagster_run_id}")
    run = client.create_run(experiment, tags={DAGSTER_RUN_TAG: dagster_run_id})
    return run.info.run_id


def test_the_mlflow_run_of_a_failed_dagster_run_is_ended_as_failed(instance, mlflow_client):
    finished = create_run_for_test(instance, job_name="training_job")
    instance.report_run_failed(finished, "test")
    orphan = running_mlflow_run_of(mlflow_client, finished.run_id)

    assert healing.end_orphaned_mlflow_runs(mlflow_client, instance) == [orphan]
    assert mlflow_client.get_run(orphan).info.status == "FAILED"


def test_the_mlflow_run_of_a_succeeded_dagster_run_is_ended_as_finished(instance, mlflow_client):
    # The run succeeded and only ending its MLflow run met a server that did not answer.
    succeeded = create_run_for_test(
        instance, job_name="training_job", status=DagsterRunStatus.SUCCESS
    )
    orphan = running_mlflow_run_of(mlflow_client, succeeded.run_id)

    assert healing.end_orphaned_mlflow_runs(mlflow_client, instance) == [orphan]
    assert mlflow_client.get_run(orphan).info.status == "FINISHED"


def test_live_runs_and_other_deployments_mlflow_runs_are_left_running(instance, mlflow_client):
    live = create_run_for_test(instance, job_name="training_job", status=DagsterRunStatus.STARTED)
    live_mlflow_run = running_mlflow_run_of(mlflow_client, live.run_id)
    foreign = running_mlflow_run_of(mlflow_client, "a-run-of-another-deployment")

    assert healing.end_orphaned_mlflow_runs(mlflow_client, instance) == []
    for run_id in (live_mlflow_run, foreign):
        assert mlflow_client.get_run(run_id).info.status == "RUNNING"
