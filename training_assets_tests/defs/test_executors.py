"""The executor is chosen by the deployment: in process by default, multiprocess by run config,
Celery or Kubernetes by $TRAINING_ASSETS_EXECUTOR."""

import pytest

from training_assets.defs import executors


def test_the_default_runs_in_process_and_run_config_can_choose_multiprocess(monkeypatch):
    monkeypatch.delenv(executors.EXECUTOR_ENV, raising=False)
    local = executors.training_executor()

    schema = local.config_schema
    assert schema.default_value == {"in_process": {}}
    assert set(schema.config_type.fields) == {"in_process", "multiprocess"}


@pytest.mark.parametrize(("choice", "name"), [("celery", "celery"), ("k8s", "k8s")])
def test_the_environment_chooses_celery_or_kubernetes(monkeypatch, choice, name):
    monkeypatch.setenv(executors.EXECUTOR_ENV, choice)

    assert executors.training_executor().name == name


def test_an_unknown_executor_is_named_with_the_choices(monkeypatch):
    monkeypatch.setenv(executors.EXECUTOR_ENV, "spark")

    with pytest.raises(ValueError, match=r"TRAINING_ASSETS_EXECUTOR='spark'.*local, celery, k8s"):
        executors.training_executor()
