"""Run config is data: every field has its effect, code paths are not config, bad names and
settings out of range stop a run before any step, and a run trains only on the snapshot it was
requested for."""

from pathlib import Path

import mlflow
import pytest
import yaml
from dagster import DagsterInvalidConfigError, validate_run_config

from training_assets.core import paths
from training_assets.definitions import defs
from training_assets.defs.config import RunConfigError, check_run_config
from training_assets.defs.tags import ORDERS_VERSION_TAG
from training_assets_tests.e2e.cli import cli_run, finish

MODEL_NAME = "sklearn-elastic-net-reg"


def job():
    return defs.resolve_job_def("training_job")


def example_run_config() -> dict:
    return yaml.safe_load((paths.PROJECT_ROOT / "config" / "example_run.yaml").read_text())


def test_the_feast_repo_path_is_not_run_config(working_area, instance):
    config = {"resources": {"feast": {"config": {"repo_path": str(working_area)}}}}

    with pytest.raises(DagsterInvalidConfigError, match="repo_path"):
        job().execute_in_process(instance=instance, run_config=config)


def test_a_tracking_uri_in_run_config_reaches_every_mlflow_call(working_area, instance, tmp_path):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    config = {"resources": {"mlflow_store": {"config": {"tracking_uri": other}}}}

    result = job().execute_in_process(instance=instance, run_config=config)

    assert result.success
    assert mlflow.MlflowClient(tracking_uri=other).search_model_versions(f"name='{MODEL_NAME}'")
    default = f"sqlite:///{paths.default_mlflow_dir() / 'mlflow.db'}"
    assert not Path(default.removeprefix("sqlite:///")).exists() or not mlflow.MlflowClient(
        tracking_uri=default
    ).search_model_versions(f"name='{MODEL_NAME}'")


def test_a_model_name_with_a_quote_stops_the_run_before_any_step(working_area, instance):
    config = {"resources": {"model_registry": {"config": {"model_name": "driver's model"}}}}

    result = job().execute_in_process(instance=instance, run_config=config, raise_on_error=False)

    assert not result.success
    assert not result.get_step_success_events()
    failure = instance.get_run_by_id(result.run_id)
    assert failure.status.value == "FAILURE"


def test_a_run_requested_for_other_data_trains_on_nothing(working_area, instance, mlflow_client):
    result = job().execute_in_process(
        instance=instance, tags={ORDERS_VERSION_TAG: "0" * 64}, raise_on_error=False
    )

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "training_data"
    message = failure.step_failure_data.error.cause.message
    assert "requested 000000000000, found" in message
    assert mlflow_client.search_model_versions(f"name='{MODEL_NAME}'") == []


BAD_SETTINGS = [
    ("splits", "test_size", 1.5, "less than 1"),
    ("splits", "test_size", 0, "greater than 0"),
    ("trained_model", "alpha", -0.5, "greater than or equal to 0"),
    ("trained_model", "l1_ratio", 1.2, "less than or equal to 1"),
    ("trained_model", "alpha_grid", [0.1, -0.5], "greater than or equal to 0"),
    ("trained_model", "l1_ratio_grid", [], "at least 1 item"),
]


@pytest.mark.parametrize(("op", "field", "value", "expected"), BAD_SETTINGS)
def test_a_setting_out_of_range_is_named_by_the_run_config_check(op, field, value, expected):
    config = {"ops": {op: {"config": {field: value}}}}
    # Dagster's own check passes it: the schema knows types, not ranges.
    validate_run_config(job(), config)

    with pytest.raises(RunConfigError, match=rf"ops\.{op}\.config\.{field}\S*: .*{expected}"):
        check_run_config(job(), config)


def test_the_default_and_example_settings_pass_the_run_config_check():
    check_run_config(job(), {})
    check_run_config(job(), example_run_config())
    for name in (
        "promote_model_job",
        "rollback_model_job",
        "batch_predictions_job",
        "live_quality_job",
    ):
        check_run_config(defs.resolve_job_def(name), {})


def test_dagster_job_execute_refuses_settings_out_of_range_before_any_step(working_area, home):
    config = {
        "ops": {
            "splits": {"config": {"test_size": 1.5}},
            "trained_model": {"config": {"alpha": -1.0, "search": True, "alpha_grid": [-0.1]}},
        }
    }

    process, log = cli_run(working_area, home, "bad_settings", config=config)

    assert finish(process, log) != 0
    output = log.read_text()
    assert "STEP_START" not in output, output[-4000:]
    for named in (
        "ops.splits.config.test_size: Input should be less than 1, found 1.5",
        "ops.trained_model.config.alpha: Input should be greater than or equal to 0, found -1.0",
        "ops.trained_model.config.alpha_grid.0: Input should be greater than or equal to 0",
    ):
        assert named in output, output[-4000:]


def test_the_example_passed_as_it_is_registers_nothing_new_over_a_default_run(
    working_area, instance, mlflow_client
):
    assert job().execute_in_process(instance=instance).success

    again = job().execute_in_process(instance=instance, run_config=example_run_config())

    assert again.success
    record = again.output_for_node("registered_model_version")
    assert record.outcome == "unchanged" and record.version == 1
    assert len(mlflow_client.search_model_versions(f"name='{MODEL_NAME}'")) == 1
