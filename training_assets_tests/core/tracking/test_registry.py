"""The champion lookup and registration on real MLflow stores: no model and no alias mean no
champion; a failing server is an error, never "no champion"."""

import http.server
import threading

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from training_assets.core.tracking.registry import champion_version


def test_no_model_and_no_alias_mean_no_champion(tmp_path):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")

    assert champion_version(client, "model", "champion") is None
    client.create_registered_model("model")
    assert champion_version(client, "model", "champion") is None


class _Failing(http.server.BaseHTTPRequestHandler):
    """A tracking server that answers every request with a server error."""

    def do_GET(self):  # noqa: N802 (the handler's protocol)
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "down"}')

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def failing_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_error_fails_closed(failing_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    client = mlflow.MlflowClient(tracking_uri=failing_server, registry_uri=failing_server)

    with pytest.raises(MlflowException):
        champion_version(client, "model", "champion")
