"""The deployment files in deploy/ agree with each other and with the code: the compose file,
the Helm values and the instance config carry the same queue and monitoring settings, every
variable a file reads is in the environment template, and every command and module they name
exists."""

import re
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
        if command and command[0] != "bash":
            assert (BIN / command[0]).exists(), f"{name}: {command[0]} is not installed"
    [server] = load("compose/workspace.yaml")["load_from"]
    assert server["grpc_server"]["host"] in services
    assert str(server["grpc_server"]["port"]) in services["code_location"]["command"]
    assert "training_assets.definitions" in services["code_location"]["command"]


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
