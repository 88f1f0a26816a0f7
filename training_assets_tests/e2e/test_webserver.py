"""End to end over loopback: training_job launched through the GraphQL API of `dagster dev`
runs in a real run worker and registers a model."""

import time

import pytest
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClientError

from training_assets_tests.e2e.servers import dagster_dev

pytestmark = pytest.mark.slow

RUN_TIMEOUT_S = 300
FINISHED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


@pytest.fixture
def server(working_area, tmp_path):
    # The new-data sensor would start its own run on the sample; this test launches by hand.
    with dagster_dev(
        working_area, tmp_path, {"NEW_DATA_SENSOR_INTERVAL_SECONDS": "86400"}
    ) as running:
        yield running


def submit_when_loaded(client, job_name: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            return client.submit_job_execution(job_name, repository_location_name="training_assets")
        except DagsterGraphQLClientError:
            # The code location may still be loading in the webserver.
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def test_training_job_launched_over_graphql_registers_a_model(mlflow_client, server):
    run_id = submit_when_loaded(server.client, "training_job")

    status = None
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline and status not in FINISHED:
        time.sleep(2)
        status = server.client.get_run_status(run_id)

    assert status == DagsterRunStatus.SUCCESS, server.log_tail()
    champion = mlflow_client.get_model_version_by_alias("sklearn-elastic-net-reg", "champion")
    assert int(champion.version) == 1
    assert mlflow_client.get_run(champion.run_id).data.tags["dagster_run_id"] == run_id
