"""End to end over loopback: `dagster dev` serves the code location, and training_job launched
through the GraphQL API runs in the daemon-launched run worker and registers a model."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from training_assets import paths

SERVER_START_TIMEOUT_S = 180
RUN_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dagster_dev(working_area: Path, tmp_path: Path):
    """`dagster dev` on 127.0.0.1 with a temporary DAGSTER_HOME; stopped by its process id."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), paths.WORKING_AREA_ENV: str(working_area)}
    log = (tmp_path / "dagster_dev.log").open("wb")
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "dev",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        str(paths.PROJECT_ROOT / "workspace.yaml"),
    ]
    server = subprocess.Popen(
        command,
        cwd=paths.PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        client = wait_for_server(server, port, tmp_path / "dagster_dev.log")
        yield client
    finally:
        stop(server)
        log.close()


def wait_for_server(server: subprocess.Popen, port: int, log: Path) -> DagsterGraphQLClient:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=10)
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dagster dev exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                return client
        except OSError:
            time.sleep(1)
    pytest.fail(f"dagster dev did not answer within {SERVER_START_TIMEOUT_S}s")


def stop(server: subprocess.Popen) -> None:
    """Interrupt `dagster dev` (it stops its webserver, daemon and code servers), then make sure."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_training_job_launched_over_graphql_registers_a_model(dagster_dev, mlflow_client):
    client = dagster_dev
    deadline = time.monotonic() + 60
    while True:
        try:
            run_id = client.submit_job_execution(
                "training_job", repository_location_name="training_assets"
            )
            break
        except DagsterGraphQLClientError:
            # The code location may still be loading in the webserver.
            if time.monotonic() > deadline:
                raise
            time.sleep(2)

    status = None
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id)
        if status in (
            DagsterRunStatus.SUCCESS,
            DagsterRunStatus.FAILURE,
            DagsterRunStatus.CANCELED,
        ):
            break
        time.sleep(2)

    assert status == DagsterRunStatus.SUCCESS
    champion = mlflow_client.get_model_version_by_alias("sklearn-elastic-net-reg", "champion")
    assert int(champion.version) == 1
    assert mlflow_client.get_run(champion.run_id).data.tags["dagster_run_id"] == run_id
