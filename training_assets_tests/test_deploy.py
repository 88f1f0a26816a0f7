"""The deployment files in deploy/ agree with each other and with the code: the compose file,
the Helm values and the instance config carry the same queue and monitoring settings, every
variable a file reads is in the environment template, and every command and module they name
exists."""

import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config

from training_assets.core import paths
from training_assets.core.tracking.evidence import SIGNING_KEY_ENV
from training_assets.defs import executors

DEPLOY = paths.PROJECT_ROOT / "deploy"
BIN = Path(sys.executable).parent


def load(relative: str) -> dict:
    return yaml.safe_load((DEPLOY / relative).read_text())


def template_variables() -> set[str]:
    lines = (DEPLOY / "production.env").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")}


def settings(relative: str) -> str:
    """The file's text without its comment lines."""
    lines = (DEPLOY / relative).read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def test_every_variable_the_profile_reads_is_in_the_environment_template():
    read = set()
    read |= set(re.findall(r"\$\{(\w+)\}", settings("feast/feature_store.yaml")))
    read |= set(re.findall(r"env: (\w+)", settings("dagster.yaml")))
    read |= set(re.findall(r"\$\{?(MLFLOW_\w+)", settings("mlflow_server.sh")))
    read -= {"MLFLOW_HOST", "MLFLOW_PORT"}  # defaulted in the script
    compose = settings("compose/docker-compose.yaml")
    read |= set(re.findall(r"\$\{(\w+)[:?}]", compose)) - {"TRAINING_ENV_FILE"}

    assert read and read <= template_variables(), read - template_variables()
    assert template_variables() >= {executors.EXECUTOR_ENV, "DAGSTER_HOME", SIGNING_KEY_ENV}


def test_helm_values_carry_the_instance_configs_queue_and_monitoring():
    instance = load("dagster.yaml")
    daemon = load("helm/values.yaml")["dagsterDaemon"]
    queue = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    monitoring = daemon["runMonitoring"]

    assert queue["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert (
        queue["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    )
    assert monitoring["enabled"] is instance["run_monitoring"]["enabled"] is True
    for helm_key, key in [
        ("startTimeoutSeconds", "start_timeout_seconds"),
        ("cancelTimeoutSeconds", "cancel_timeout_seconds"),
        ("maxResumeRunAttempts", "max_resume_run_attempts"),
        ("pollIntervalSeconds", "poll_interval_seconds"),
    ]:
        assert monitoring[helm_key] == instance["run_monitoring"][key], key


def test_the_helm_code_location_loads_this_project_with_a_valid_executor():
    [deployment] = load("helm/values.yaml")["dagster-user-deployments"]["deployments"]
    env = {item["name"]: item["value"] for item in deployment["env"]}

    assert deployment["dagsterApiGrpcArgs"] == ["-m", "training_assets.definitions"]
    assert executors.training_executor(env[executors.EXECUTOR_ENV]).name == "k8s"
    assert Path(env["FEAST_FS_YAML_FILE_PATH"]).relative_to("/opt/training") == Path(
        "deploy/feast/feature_store.yaml"
    )


def test_compose_commands_exist_and_the_workspace_names_the_code_location_service():
    compose = load("compose/docker-compose.yaml")
    services = compose["services"]
    for name, service in services.items():
        command = service.get("command")
        # Only the project's image runs the project's commands; Redis runs its own.
        if command and command[0] != "bash" and service.get("image") == "training-assets":
            assert (BIN / command[0]).exists(), f"{name}: {command[0]} is not installed"
    [server] = load("compose/workspace.yaml")["load_from"]
    assert server["grpc_server"]["host"] in services
    assert str(server["grpc_server"]["port"]) in services["code_location"]["command"]
    assert "training_assets.definitions" in services["code_location"]["command"]


def test_the_compose_redis_keeps_the_online_store_across_restarts():
    """Feast's online store outlives a restart of its Redis: append-only file on a volume, no
    eviction, and the services wait for it to answer (it says LOADING while reading the file)."""
    compose = load("compose/docker-compose.yaml")
    redis = compose["services"]["redis"]
    command = redis["command"]

    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "--maxmemory-policy" not in command
    [volume] = redis["volumes"]
    name, mount = volume.split(":")
    assert name in compose["volumes"]
    assert mount == command[command.index("--dir") + 1]
    assert "PONG" in " ".join(redis["healthcheck"]["test"])
    assert compose["services"]["code_location"]["depends_on"]["redis"] == {
        "condition": "service_healthy"
    }


def test_the_celery_settings_are_valid_executor_config():
    from dagster_celery import celery_executor

    settings = load("compose/celery.yaml")["execution"]["config"]
    result = process_config(celery_executor.config_schema.config_type, settings)

    assert result.success, result.errors
    assert settings["broker"].startswith("redis://redis:")


@pytest.mark.parametrize("line", (DEPLOY / "Dockerfile").read_text().splitlines())
def test_the_image_copies_files_that_exist(line):
    if line.startswith("COPY "):
        for source in line.split()[1:-1]:
            assert (paths.PROJECT_ROOT / source).exists(), source


# What a command line may interpolate: any local user reads a process's arguments (`ps`,
# /proc/<pid>/cmdline), so passwords, keys and the URLs that carry them come through the
# environment or files. training_assets_tests/e2e/test_command_lines.py starts the commands.
NOT_SECRET = {"MLFLOW_HOST", "MLFLOW_PORT", "DAGSTER_HOME"}
COMMAND_KEYS = {"command", "args", "entrypoint", "test", "dagsterApiGrpcArgs"}
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]*:[^/@\s]*@")


def command_entries(node, key: str | None = None):
    """Every string under a command-like key of a parsed compose or Helm file."""
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield from command_entries(child, child_key if child_key in COMMAND_KEYS else key)
    elif isinstance(node, list):
        for child in node:
            yield from command_entries(child, key)
    elif key is not None and isinstance(node, str):
        yield node


def secrets_on_command_lines(entries) -> list[str]:
    return [
        entry
        for entry in entries
        if set(re.findall(r"\$\{?(\w+)", entry)) - NOT_SECRET or CREDENTIALS_IN_URL.search(entry)
    ]


def test_the_finder_of_secrets_on_command_lines_finds_them():
    shown = {"command": ["mlflow", "server", "--backend-store-uri", "$MLFLOW_BACKEND_STORE_URI"]}
    inline = {"args": ["--broker", "redis://:pw@redis:6379/1"], "env": [{"value": "$X"}]}

    assert secrets_on_command_lines(command_entries(shown)) == ["$MLFLOW_BACKEND_STORE_URI"]
    assert secrets_on_command_lines(command_entries(inline)) == ["redis://:pw@redis:6379/1"]


@pytest.mark.parametrize(
    "relative", ["compose/docker-compose.yaml", "helm/values.yaml", "k8s/serve.yaml"]
)
def test_no_command_in_the_compose_or_helm_files_carries_a_secret(relative):
    entries = list(command_entries(list(yaml.safe_load_all((DEPLOY / relative).read_text()))))

    assert entries
    assert secrets_on_command_lines(entries) == []


def test_neither_the_image_nor_the_mlflow_script_puts_a_secret_on_a_command_line():
    dockerfile = settings("Dockerfile").splitlines()
    commands = [
        line for line in dockerfile if line.split(" ", 1)[0] in {"RUN", "CMD", "ENTRYPOINT"}
    ]
    script = settings("mlflow_server.sh").replace("\\\n", " ").splitlines()
    [server] = [line for line in script if line.startswith("exec ")]

    assert commands and secrets_on_command_lines(commands) == []
    assert secrets_on_command_lines([server]) == []


def test_run_and_step_workers_get_no_database_password_in_their_arguments(tmp_path, monkeypatch):
    """Kubernetes run and step Jobs get the instance's reference in their arguments (Celery in
    its task messages); with deploy/dagster.yaml it names the variable, not the URL."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.instance.ref import InstanceRef
    from dagster._grpc.types import ExecuteRunArgs, ExecuteStepArgs

    secret = "s3cret-0n-Argv"
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", f"postgresql+psycopg2://u:{secret}@db:5432/d")
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    ref = InstanceRef.from_dir(str(tmp_path))
    repository = ReconstructableRepository.for_module(
        "training_assets.definitions", "defs", str(paths.PROJECT_ROOT)
    )
    origin = repository.get_reconstructable_job("training_job").get_python_origin()

    run = ExecuteRunArgs(job_origin=origin, run_id="r", instance_ref=ref)
    step = ExecuteStepArgs(
        job_origin=origin, run_id="r", step_keys_to_execute=None, instance_ref=ref
    )
    arguments = [*run.get_command_args(), *step.get_command_args()]

    assert any("DAGSTER_POSTGRES_URL" in argument for argument in arguments)
    assert not [argument for argument in arguments if secret in argument]


def test_the_serving_deployment_is_ready_on_health_with_the_profiles_image_and_settings():
    """The Kubernetes Deployment and the compose service run the same server command; a pod is
    ready only on /health at the port the command serves, with the Helm code location's image,
    Secret and Feast settings."""
    import importlib.util

    deployment, service = yaml.safe_load_all((DEPLOY / "k8s" / "serve.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    port = int(command[command.index("--port") + 1])
    [helm] = load("helm/values.yaml")["dagster-user-deployments"]["deployments"]
    helm_env = {item["name"]: item["value"] for item in helm["env"]}
    env = {item["name"]: item["value"] for item in container["env"]}

    assert command == load("compose/docker-compose.yaml")["services"]["serve"]["command"]
    assert command[:3] == ["python", "-m", "training_assets.server.main"]
    assert importlib.util.find_spec(command[2]) is not None
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["ports"][0]["containerPort"] == port
    assert container["readinessProbe"]["httpGet"]["port"] == container["ports"][0]["name"]
    # An outage makes /health 503: it must take the pod out of traffic, not restart it.
    assert "httpGet" not in container["livenessProbe"]
    assert container["image"].split(":")[0] == helm["image"]["repository"]
    assert [source["secretRef"]["name"] for source in container["envFrom"]] == [
        secret["name"] for secret in helm["envSecrets"]
    ]
    assert env["FEAST_FS_YAML_FILE_PATH"] == helm_env["FEAST_FS_YAML_FILE_PATH"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert "TRAINING_ASSETS_PREDICTION_LOG_URL" in template_variables()
