"""No secret on a command line: the production profile's commands (deploy/), started here with
passwords in their environment and settings files as deployments give them, show none in their
own arguments or in those of the processes they start. Any local user reads a process's
arguments (`ps`, /proc/<pid>/cmdline); only its owner reads its environment.

Each command is the one the compose file runs, bound to 127.0.0.1 on free ports, with the
compose file's paths pointed at copies naming this machine's services."""

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from training_assets.core import paths
from training_assets_tests.e2e.servers import START_TIMEOUT_S, free_port
from training_assets_tests.services import postgres_database, postgres_url

pytestmark = [pytest.mark.services, pytest.mark.slow]

DEPLOY = paths.PROJECT_ROOT / "deploy"
# Trust auth on the local PostgreSQL accepts any password, so the URLs carry one to look for.
SECRET = "s3cret-0n-Argv"


def argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []  # ended meanwhile
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def process_tree(root: int) -> dict[int, list[str]]:
    """The arguments of `root` and of every process it started, by pid."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    tree, pending = {}, [root]
    while pending:
        pid = pending.pop()
        tree[pid] = argv(pid)
        pending.extend(children.get(pid, []))
    return tree


def showing_the_secret(tree: dict[int, list[str]]) -> dict[int, list[str]]:
    return {pid: args for pid, args in tree.items() if any(SECRET in arg for arg in args)}


def compose_command(service: str, replacements: dict[str, str]) -> list[str]:
    """The compose file's command for `service`, with its listen address, ports and files
    replaced for this machine."""
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.yaml").read_text())
    command = compose["services"][service]["command"]
    return [replacements.get(part, part) for part in command]


@contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`command` in a session of its own, run from the project (the image's working directory);
    stopped with everything it started, by its id."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=paths.PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def wait_until(ready: Callable[[], bool], process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if ready():
                return
        except Exception:  # not answering yet: refused, reset, not loaded
            pass
        time.sleep(0.5)
    pytest.fail(f"{process.args} not ready within {START_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")


def answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5):
        return True


@pytest.fixture
def profile_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of production.env, each database URL with a password, and a
    DAGSTER_HOME holding deploy/dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    with ExitStack() as stack:
        dagster, feast, mlflow = (
            stack.enter_context(postgres_database(name)) for name in ("dagster", "feast", "mlflow")
        )
        yield {
            **os.environ,
            # The image installs the commands on the PATH.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "DAGSTER_HOME": str(home),
            "DAGSTER_POSTGRES_URL": postgres_url(dagster, SECRET),
            "FEAST_FS_YAML_FILE_PATH": str(DEPLOY / "feast" / "feature_store.yaml"),
            "FEAST_REGISTRY_URL": postgres_url(feast, SECRET),
            "FEAST_REDIS_CONNECTION": f"127.0.0.1:{free_port()},password={SECRET}",
            "MLFLOW_TRACKING_URI": f"http://user:{SECRET}@127.0.0.1:{free_port()}",
            "MLFLOW_BACKEND_STORE_URI": postgres_url(mlflow, SECRET),
            "MLFLOW_ARTIFACTS_DESTINATION": str(tmp_path / "artifacts"),
            paths.WORKING_AREA_ENV: str(tmp_path / "var"),
        }


def test_the_mlflow_server_starts_only_its_workers_and_they_show_no_database_password(
    profile_env, tmp_path
):
    port = free_port()
    env = {**profile_env, "MLFLOW_HOST": "127.0.0.1", "MLFLOW_PORT": str(port)}
    env["MLFLOW_WORKERS"] = "2"  # the server and more than one worker process
    log = tmp_path / "mlflow.log"

    with started(compose_command("mlflow", {}), env, log) as server:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/health"), server, log)
        tree = process_tree(server.pid)

    assert any("server" in args for args in tree.values()), tree
    assert sum(any("uvicorn" in arg for arg in args) for args in tree.values()) >= 1, tree
    # No job consumers beside them: the profile turns MLflow's server jobs off.
    assert not [args for args in tree.values() if any("huey" in arg for arg in args)], tree
    assert showing_the_secret(tree) == {}


def test_the_code_location_webserver_and_daemon_show_no_password(
    profile_env, tmp_path, monkeypatch
):
    from dagster._grpc.client import DagsterGrpcClient

    grpc_port, web_port = free_port(), free_port()
    workspace = tmp_path / "workspace.yaml"
    server = yaml.safe_load((DEPLOY / "compose" / "workspace.yaml").read_text())
    server["load_from"][0]["grpc_server"].update(host="127.0.0.1", port=grpc_port)
    workspace.write_text(yaml.safe_dump(server))
    replacements = {
        "0.0.0.0": "127.0.0.1",
        "4000": str(grpc_port),
        "3000": str(web_port),
        "deploy/compose/workspace.yaml": str(workspace),
    }
    client = DagsterGrpcClient(host="127.0.0.1", port=grpc_port)
    with ExitStack() as stack:
        log = tmp_path / "code_location.log"
        code = stack.enter_context(
            started(compose_command("code_location", replacements), profile_env, log)
        )
        # Answers once its server process has loaded the definitions.
        wait_until(lambda: bool(client.list_repositories()), code, log)
        log = tmp_path / "webserver.log"
        web = stack.enter_context(
            started(compose_command("webserver", replacements), profile_env, log)
        )
        wait_until(lambda: answers(f"http://127.0.0.1:{web_port}/server_info"), web, log)
        log = tmp_path / "daemon.log"
        daemon = stack.enter_context(
            started(compose_command("daemon", replacements), profile_env, log)
        )
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", profile_env["DAGSTER_POSTGRES_URL"])
        with DagsterInstance.from_ref(InstanceRef.from_dir(profile_env["DAGSTER_HOME"])) as ours:
            wait_until(lambda: bool(ours.get_daemon_heartbeats()), daemon, log)
        trees = {
            name: process_tree(process.pid)
            for name, process in [("code", code), ("web", web), ("daemon", daemon)]
        }

    # The code location serves from a process of its own, which it hands the instance.
    assert len(trees["code"]) >= 2, trees["code"]
    assert {name: showing_the_secret(tree) for name, tree in trees.items()} == {
        "code": {},
        "web": {},
        "daemon": {},
    }


def test_the_celery_worker_shows_no_broker_password(profile_env, tmp_path):
    settings = yaml.safe_load((DEPLOY / "compose" / "celery.yaml").read_text())
    # A broker with a password, on a port where nothing listens: the worker keeps retrying.
    broker = f"redis://:{SECRET}@127.0.0.1:{free_port()}/1"
    settings["execution"]["config"].update(broker=broker, backend=broker)
    config = tmp_path / "celery.yaml"
    config.write_text(yaml.safe_dump(settings))
    command = compose_command("celery_worker", {"deploy/compose/celery.yaml": str(config)})
    log = tmp_path / "celery.log"

    with started(command, profile_env, log) as worker:

        def celery_started() -> bool:
            tree = process_tree(worker.pid).values()
            return any(Path(arg).name == "celery" for args in tree for arg in args[:2])

        wait_until(celery_started, worker, log)
        tree = process_tree(worker.pid)

    assert len(tree) >= 2, tree
    assert showing_the_secret(tree) == {}
