"""MlflowStore's client: on the configured stores, named explicitly, with nothing else in the
process pointed at them; only an HTTP store gets MLflow's HTTP settings, which MLflow reads
from the environment alone."""

import os

import mlflow
import pytest

from training_assets.defs.resources.mlflow import MlflowStore


@pytest.fixture
def clean_mlflow_state(monkeypatch: pytest.MonkeyPatch):
    """No MLFLOW_ variable and no process-wide tracking URI; the test's own are undone after."""
    for name in [key for key in os.environ if key.startswith("MLFLOW_")]:
        monkeypatch.delenv(name)
    mlflow.set_tracking_uri(None)
    yield
    for name in [key for key in os.environ if key.startswith("MLFLOW_")]:
        monkeypatch.delenv(name)
    mlflow.set_tracking_uri(None)


def mlflow_variables() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key.startswith("MLFLOW_")}


def test_a_local_store_changes_nothing_in_the_process(working_area, clean_mlflow_state):
    store = MlflowStore()

    client = store.configure_client()

    assert client.tracking_uri == store.resolved_tracking_uri()
    assert client.tracking_uri.startswith("sqlite:///")
    assert not mlflow.is_tracking_uri_set()
    assert mlflow_variables() == {}


def test_a_server_gets_mlflows_http_variables_and_no_process_wide_uri(clean_mlflow_state):
    store = MlflowStore(
        tracking_uri="http://trainer:s3cret@127.0.0.1:9/",
        request_timeout_seconds=3,
        max_retries=1,
    )

    client = store.configure_client()

    assert client.tracking_uri == "http://127.0.0.1:9/"
    assert not mlflow.is_tracking_uri_set()
    assert mlflow_variables() == {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "3",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_TRACKING_USERNAME": "trainer",
        "MLFLOW_TRACKING_PASSWORD": "s3cret",
    }


class RacedClient(mlflow.MlflowClient):
    """A client whose first look-up of the experiment misses it and then lets another process
    create it, as when two runs start at the same moment (the window between the two calls
    cannot be hit on purpose with real processes)."""

    raced = False

    def get_experiment_by_name(self, name):
        if not self.raced:
            self.raced = True
            mlflow.MlflowClient(tracking_uri=self.tracking_uri).create_experiment(name)
            return None
        return super().get_experiment_by_name(name)


def test_an_experiment_created_by_another_run_meanwhile_is_used_not_a_failure(
    working_area, mlflow_client, clean_mlflow_state
):
    from training_assets.defs.resources.mlflow import MlflowTracking

    tracking = MlflowTracking(store=MlflowStore(), experiment_name="raced")
    client = RacedClient(tracking_uri=mlflow_client.tracking_uri)

    experiment_id = tracking._experiment(client)

    assert experiment_id == mlflow_client.get_experiment_by_name("raced").experiment_id
