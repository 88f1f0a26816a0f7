"""`training-assets-serve` as a test fixture: a real process on a free port of 127.0.0.1,
stopped by its id."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from training_assets.core import paths
from training_assets_tests.e2e.servers import free_port

START_TIMEOUT_S = 180


class Server:
    def __init__(self, process: subprocess.Popen, port: int, log: Path):
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.http = requests.Session()

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.url}{path}", timeout=30)

    def predict(self, driver_ids: list[int], impute: bool = False) -> requests.Response:
        body = {"driver_ids": driver_ids, "impute": impute}
        return self.http.post(f"{self.url}/predict", json=body, timeout=30)

    def health(self) -> requests.Response:
        return self.get("/health")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_for(self, condition, what: str, timeout_s: float = 60) -> None:
        """Wait until `condition()` is true, checking that the server is still alive."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not within {timeout_s}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM by its id (uvicorn finishes the requests in flight, then the log writes
        what it holds); SIGKILL if it does not exit within 30 s. Its exit code."""
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def _answers(server: Server) -> bool:
    try:
        server.health()
        return True
    except requests.ConnectionError:
        return False


@contextmanager
def serve(working_area: Path, log_dir: Path, *args: str, env: dict[str, str] | None = None):
    """The server on the working area's Feast repo and MLflow store (or what `env` names),
    answering on a free port; stopped afterwards."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    environment.update(
        {
            paths.WORKING_AREA_ENV: str(working_area),
            "PYTHONPATH": str(paths.PROJECT_ROOT),
            **(env or {}),
        }
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"serve_{port}.log"
    command = [sys.executable, "-m", "training_assets.server.main", "--port", str(port), *args]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=environment,
            cwd=paths.PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, port, log)
    try:
        server.wait_for(lambda: _answers(server), "an answer on /health", START_TIMEOUT_S)
        yield server
    finally:
        server.stop()
