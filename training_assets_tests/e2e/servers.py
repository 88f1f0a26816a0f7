"""`dagster dev` as a test fixture: bound to 127.0.0.1, with its own DAGSTER_HOME, stopped by id."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster_graphql import DagsterGraphQLClient

from training_assets.core import paths

START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DagsterDev:
    def __init__(self, home: Path, port: int, process: subprocess.Popen, log: Path):
        self.home = home
        self.port = port
        self.process = process
        self.log = log
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=10)

    def instance(self) -> DagsterInstance:
        """The server's instance, read from its DAGSTER_HOME."""
        return DagsterInstance.from_ref(InstanceRef.from_dir(str(self.home)))

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def dagster_dev(
    working_area: Path,
    tmp_path: Path,
    extra_env: dict[str, str] | None = None,
    instance_config: Path = paths.PROJECT_ROOT / "dagster_home" / "dagster.yaml",
):
    """Run `dagster dev` on the project's workspace with an instance config (by default the
    embedded one the project ships)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(instance_config, home / "dagster.yaml")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        paths.WORKING_AREA_ENV: str(working_area),
        **(extra_env or {}),
    }
    log = tmp_path / "dagster_dev.log"
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
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=paths.PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = DagsterDev(home, port, process, log)
        try:
            _wait_until_serving(server)
            yield server
        finally:
            _stop(process)


def _wait_until_serving(server: DagsterDev) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"dagster dev exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/server_info", timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"dagster dev did not answer within {START_TIMEOUT_S}s")


def _stop(process: subprocess.Popen) -> None:
    """Interrupt `dagster dev` (it stops its webserver, daemon and code servers), then make sure."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# What deploy/mlflow_server.sh sets: no MLflow server jobs, so no job consumer processes.
MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class MlflowServer:
    """`mlflow server` on 127.0.0.1 with served artifacts in `root`, on a sqlite backend there
    unless another backend store is given, set as the production profile sets it."""

    def __init__(self, root: Path, port: int | None = None, backend_store_uri: str | None = None):
        self.root = root
        self.port = port or free_port()
        self.backend_store_uri = backend_store_uri or f"sqlite:///{root / 'mlflow.db'}"
        self.process: subprocess.Popen | None = None
        self.log = root / f"mlflow_server_{self.port}.log"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MlflowServer":
        self.root.mkdir(parents=True, exist_ok=True)
        command = [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--backend-store-uri",
            self.backend_store_uri,
            "--artifacts-destination",
            str(self.root / "artifacts"),
        ]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                env={**os.environ, **MLFLOW_SERVER_ENV},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{self.log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=5):
                    return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"mlflow server did not answer within {START_TIMEOUT_S}s")

    def stop(self) -> None:
        """Stop the server and the workers it started (its own process group), by its id."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None


@contextmanager
def mlflow_server(root: Path, backend_store_uri: str | None = None):
    server = MlflowServer(root, backend_store_uri=backend_store_uri).start()
    try:
        yield server
    finally:
        server.stop()


# moto's documented placeholder credentials: its server accepts any, and nothing real is used.
S3_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_server(root: Path):
    """An S3-compatible server (moto's server mode) on 127.0.0.1, stopped by its id.

    Yields the environment that points boto3, s3fs and so fsspec's `s3://` URLs at it.
    """
    port = free_port()
    log = root / f"s3_server_{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited:\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"moto_server did not answer within {START_TIMEOUT_S}s"
                    ) from None
                time.sleep(0.3)
        yield {**S3_TEST_ENV, "AWS_ENDPOINT_URL": endpoint}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


@contextmanager
def redis_server(root: Path):
    """A redis-server of the test's own on a free port of 127.0.0.1, with its data directory in
    `root` and no persistence (a restart or FLUSHALL loses everything), stopped by its id.
    Yields its port; never the machine's shared Redis."""
    import redis

    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    log = root / f"redis_{port}.log"
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(root)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{log.read_text()[-4000:]}")
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"redis-server did not answer within {START_TIMEOUT_S}s"
                    ) from None
                time.sleep(0.1)
        yield port
    finally:
        client.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
