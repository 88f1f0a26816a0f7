"""`training-assets-serve` when what it stands on goes away.

A Redis online store that stops answering (a redis-server of the test's own, paused with
SIGSTOP) gets a 503 at once per request: the server's 50 ms timeouts, not redis-py's retries of
about 30 s (the 100 ms figure itself is the benchmark's; a timed test measures the machine's
load). The server answers again by itself once Redis does. An MLflow server that is not there
at start leaves the server up without a model, saying so on /health, until it answers, and one
that goes away later does not stop the loaded model from serving."""

import os
import signal
import time

import pytest
import redis
import yaml

from training_assets.core import paths
from training_assets_tests.e2e.servers import MlflowServer, free_port, redis_server
from training_assets_tests.server.conftest import (
    MODEL_NAME,
    loaded_online_store,
    registered_versions,
)
from training_assets_tests.server.process import serve
from training_assets_tests.server.test_server import SERVE_ARGS, ready

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]


@pytest.fixture
def redis_world(working_area, mlflow_client, tmp_path, monkeypatch):
    """The repo's Feast settings with a Redis online store of the test's own, loaded."""
    with redis_server(tmp_path / "redis") as port:
        settings = yaml.safe_load((paths.feature_repo() / "feature_store.yaml").read_text())
        settings["online_store"] = {"type": "redis", "connection_string": f"127.0.0.1:{port}"}
        path = tmp_path / "feature_store.yaml"
        path.write_text(yaml.safe_dump(settings))
        monkeypatch.setenv("FEAST_FS_YAML_FILE_PATH", str(path))
        registered_versions(mlflow_client)
        loaded_online_store()
        yield redis.Redis(host="127.0.0.1", port=port)


def timed(server, drivers):
    start = time.perf_counter()
    response = server.predict(drivers)
    return response, time.perf_counter() - start


@pytest.mark.services
def test_a_redis_that_stops_answering_gets_fast_503s_and_the_server_recovers(redis_world, tmp_path):
    drivers = [1001, 1002]
    redis_pid = redis_world.info()["process_id"]
    assert redis_world.dbsize() > 0
    with serve(paths.working_area(), tmp_path, *SERVE_ARGS) as server:
        server.wait_for(lambda: ready(server), "a ready server")
        before = server.predict(drivers).json()
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            refused = [timed(server, drivers) for _ in range(20)]
            health = server.health()
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        server.wait_for(lambda: server.predict(drivers).status_code == 200, "an answer again")
        after = server.predict(drivers).json()
        metrics = server.get("/metrics").text

    assert [response.status_code for response, _ in refused] == [503] * 20
    # Far below a hang, with room for a loaded machine's scheduling.
    assert max(seconds for _, seconds in refused) < 2, [s for _, s in refused]
    assert {response.json()["reason"] for response, _ in refused} == {"store_unreachable"}
    assert health.status_code == 503
    assert "could not be reached" in " ".join(health.json()["reasons"])
    strip = lambda rows: [{k: v for k, v in r.items() if k != "prediction_id"} for r in rows]  # noqa: E731
    assert strip(after) == strip(before)
    assert 'training_assets_serve_errors_total{reason="store_unreachable"} 20.0' in metrics


def test_the_server_starts_without_mlflow_and_serves_once_it_answers_and_after_it_goes(
    working_area, mlflow_client, tmp_path
):
    registered_versions(mlflow_client)
    loaded_online_store()
    port = free_port()
    tracking = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
    registry = MlflowServer(
        tmp_path / "mlflow",
        port=port,
        backend_store_uri=f"sqlite:///{paths.default_mlflow_dir() / 'mlflow.db'}",
    )
    with serve(working_area, tmp_path, *SERVE_ARGS, env=tracking) as server:
        without = server.health()
        refused = server.predict([1001])
        registry.start()
        try:
            server.wait_for(lambda: ready(server), "a model loaded once MLflow answers", 120)
            served = server.predict([1001])
        finally:
            registry.stop()
        server.wait_for(
            lambda: server.health().json()["registry_error"] is not None, "a failed poll"
        )
        after = server.predict([1001])
        health_after = server.health().json()

    assert without.status_code == 503
    assert "no model loaded" in without.json()["reasons"][0]
    assert refused.status_code == 503 and refused.json()["reason"] == "no_model"
    assert served.status_code == 200 and served.json()[0]["model_version"] == 1
    assert after.status_code == 200 and after.json()[0]["model_version"] == 1
    assert after.json()[0]["prediction"] == served.json()[0]["prediction"]
    assert health_after["ready"] is True
    assert health_after["registry_error"] is not None
    assert MODEL_NAME == health_after["model_name"]
