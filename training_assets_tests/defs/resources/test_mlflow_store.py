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
