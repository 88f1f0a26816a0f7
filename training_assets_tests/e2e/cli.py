"""Runs started the way users start them: `dagster job execute` (or `dagster asset
materialize`) in a process of its own, on a DAGSTER_HOME and working area of the test's own."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from training_assets.core import paths

RUN_TIMEOUT_S = 300


def open_instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


JOB = ("job", "execute", "-m", "training_assets.definitions", "-j", "training_job")
# What "Materialize all" in the UI launches: an asset job run without training_job's tags.
MATERIALIZE_ALL = ("asset", "materialize", "-m", "training_assets.definitions", "--select")


def cli_run(
    area: Path,
    home: Path,
    name: str,
    env: dict | None = None,
    config: dict | None = None,
    launch: tuple[str, ...] = JOB,
) -> tuple[subprocess.Popen, Path]:
    """Start `dagster job execute` of training_job (or another `launch`) in a process of its
    own; returns it and the file its output goes to."""
    command = [str(Path(sys.executable).parent / "dagster"), *launch]
    if config:
        config_path = area.parent / f"{name}.yaml"
        config_path.write_text(yaml.safe_dump(config))
        command += ["-c", str(config_path)]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    environment.update(
        {"DAGSTER_HOME": str(home), paths.WORKING_AREA_ENV: str(area), **(env or {})}
    )
    log = area.parent / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=paths.PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, log


def finish(process: subprocess.Popen, log: Path, timeout: float = RUN_TIMEOUT_S) -> int:
    """The process's exit code; stopped by its id when it overstays."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        pytest.fail(f"{process.args} ran over {timeout}s:\n{log.read_text()[-3000:]}")
