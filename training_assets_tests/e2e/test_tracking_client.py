"""A training run tracks to MLflow through a client of its own: mlflow's process-wide state (its
tracking URI, its active run, the MLFLOW_ variables of the environment) is as the run found
it, and a search's candidates are finished child runs of the model's run."""

import os

import mlflow
import pytest
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from training_assets.core import paths
from training_assets.defs.resources.mlflow import MlflowStore
from training_assets_tests.conftest import copy_empty_mlflow_db
from training_assets_tests.e2e.test_pipeline import run_training

SEARCH = {
    "ops": {
        "trained_model": {
            "config": {"search": True, "alpha_grid": [0.05, 0.5], "l1_ratio_grid": [0.1]}
        }
    }
}


def mlflow_variables() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key.startswith("MLFLOW_")}


def test_a_search_run_leaves_mlflows_process_state_as_it_found_it(
    working_area, instance, empty_mlflow_db, monkeypatch: pytest.MonkeyPatch
):
    copy_empty_mlflow_db(empty_mlflow_db, paths.default_mlflow_dir() / "mlflow.db")
    for name in mlflow_variables():
        monkeypatch.delenv(name)
    mlflow.set_tracking_uri(None)

    result = run_training(instance, SEARCH)

    assert result.success
    assert mlflow_variables() == {}
    assert not mlflow.is_tracking_uri_set()
    assert mlflow.active_run() is None

    client = MlflowStore().configure_client()
    record = result.output_for_node("trained_model")
    parent = client.get_run(record.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.params["search"] == "True"
    children = client.search_runs(
        [record.experiment_id], filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{record.run_id}'"
    )
    assert sorted(run.data.params["alpha"] for run in children) == ["0.05", "0.5"]
    assert {run.data.params["l1_ratio"] for run in children} == {"0.1"}
    assert {run.info.status for run in children} == {"FINISHED"}
    assert all("cv_rmse" in run.data.metrics for run in children)
    # The model is its run's logged model, and the registered version's source.
    assert client.get_logged_model(record.model_id).source_run_id == record.run_id
    [version] = client.search_model_versions("name='sklearn-elastic-net-reg'")
    assert version.source == record.model_uri == f"models:/{record.model_id}"
