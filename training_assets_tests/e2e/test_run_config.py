"""Run config is data: every field has its effect, code paths are not config, bad names stop
a run before anything is written, and a run trains only on the snapshot it was requested for."""

from pathlib import Path

import mlflow
import pytest
from dagster import DagsterInvalidConfigError

from training_assets.core import paths
from training_assets.definitions import defs
from training_assets.defs.tags import ORDERS_VERSION_TAG

MODEL_NAME = "sklearn-elastic-net-reg"


def job():
    return defs.resolve_job_def("training_job")


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
