"""Dagster and MLflow link to each other: the MLflow run and version are URLs in Dagster's
metadata under the configured MLflow UI, the MLflow run and version carry the Dagster run's
URL, and the MLflow run is named for the data and config it trained on."""

import pytest
from dagster import AssetKey, AssetSelection

from training_assets.definitions import defs
from training_assets.defs import links
from training_assets_tests.e2e.conftest import DAGSTER_UI, MLFLOW_UI, TRAINED_ONCE
from training_assets_tests.e2e.test_pipeline import MODEL_NAME


def metadata(instance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(asset))
    return event.asset_materialization.metadata


@pytest.mark.xdist_group(TRAINED_ONCE)
def test_links_both_ways_and_a_run_name_that_says_what_ran(shared_training):
    # The shared training ran with MLFLOW_UI and DAGSTER_UI as the UI addresses.
    trained = shared_training(TRAINED_ONCE)
    instance, result, mlflow_client = trained.instance, trained.result, trained.mlflow_client

    assert result.success
    trained = result.output_for_node("trained_model")
    run = mlflow_client.get_run(trained.run_id)
    assert metadata(instance, "trained_model")["mlflow_run"].value == (
        f"{MLFLOW_UI}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    )
    assert metadata(instance, "registered_model_version")["mlflow_version"].value == (
        f"{MLFLOW_UI}/#/models/{MODEL_NAME}/versions/1"
    )
    dagster_url = f"https://dagster.example.internal/runs/{result.run_id}"
    assert run.data.tags["training_assets.dagster_run_url"] == dagster_url
    version = mlflow_client.get_model_version(MODEL_NAME, "1")
    assert version.tags["training_assets.dagster_run_url"] == dagster_url
    digest = metadata(instance, "training_data")["data_digest"].value
    assert f"data {digest[:8]}" in run.info.run_name
    assert "alpha 0.5" in run.info.run_name
    assert metadata(instance, "training_data")["dagster/row_count"].value == 5000
    # The standard keys once, from the IO manager where the asset states none of its own.
    for asset in ("train_x", "test_x", "training_data", "evaluation"):
        assert not {"row_count", "columns"} & set(metadata(instance, asset)), asset
    columns = metadata(instance, "test_x")["dagster/column_schema"].schema.columns
    assert [column.name for column in columns] == ["conv_rate", "acc_rate", "avg_daily_trips"]
    described = metadata(instance, "training_data")["dagster/column_schema"].schema.columns
    assert any("Valid range" in column.description for column in described)
    test_rows = metadata(instance, "evaluation")["test_rows"].value
    assert isinstance(test_rows, int)
    assert test_rows == metadata(instance, "test_x")["dagster/row_count"].value


def test_a_launch_from_the_asset_graph_names_its_assets_not_dagsters_job(
    working_area, instance, mlflow_client, monkeypatch
):
    """A "Materialize all" in the UI runs Dagster's `__ASSET_JOB`: the MLflow run and the alias
    move say which assets ran, and the run's description links back to Dagster in markdown."""
    monkeypatch.setenv(links.DAGSTER_UI_ENV, DAGSTER_UI)
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.name.startswith("__ASSET_JOB")
    graph = defs.resolve_asset_graph()
    selection = sorted(AssetSelection.groups("training").materializable().resolve(graph))

    result = job.execute_in_process(
        instance=instance, asset_selection=selection, raise_on_error=False
    )

    assert result.success
    run = mlflow_client.get_run(result.output_for_node("trained_model").run_id)
    assert run.info.run_name.startswith("materialize ")
    assert "__" not in run.info.run_name
    dagster_url = f"https://dagster.example.internal/runs/{result.run_id}"
    assert f"[{result.run_id}]({dagster_url})" in run.data.tags["mlflow.note.content"]
    moved_by = mlflow_client.get_model_version(MODEL_NAME, "1").tags[
        "training_assets.champion.moved_by"
    ]
    assert moved_by.startswith("materialize ") and result.run_id in moved_by
