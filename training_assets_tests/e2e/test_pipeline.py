"""The whole graph materialized in-process on the real Feast repo, MLflow store and instance."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey

from training_assets.core import paths
from training_assets.core.schema import LABEL
from training_assets.core.tracking.lineage import REFERENCE_PROFILE_ARTIFACT
from training_assets.definitions import defs
from training_assets_tests.conftest import mlflow_pointed_at
from training_assets_tests.e2e.cli import cli_run, finish, open_instance
from training_assets_tests.e2e.conftest import TRAINED_ONCE, TRAINED_THEN_ALPHA_045, TRAINED_TWICE
from training_assets_tests.e2e.outputs import stored_frame
from training_assets_tests.repo_schema import repo_schema

MODEL_NAME = "sklearn-elastic-net-reg"
DATA_GATES = (
    "no_unexpected_columns",
    "expected_columns_with_dtypes",
    "labels_are_binary",
    "feature_nulls_within_rate",
    "row_count_at_least_minimum",
    "row_count_matches_orders",
    "feature_values_in_range",
    "features_not_from_the_future",
    "features_created_before_order",
    "feature_times_not_null",
    "feature_keys_not_null",
    "duplicate_rows_within_rate",
    "drift_within_limits",
)
MODEL_GATES = (
    "rmse_within_ceiling",
    "mae_within_ceiling",
    "beats_mean_baseline",
    "no_regression_against_champion",
    "worst_slice_within_limits",
    "model_loads_and_predicts",
    "signature_matches_champion",
    "latency_within_budget",
)


def run_training(instance, run_config=None):
    job = defs.resolve_job_def("training_job")
    return job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)


def check_outcomes(result) -> dict[str, bool]:
    return {
        evaluation.check_name: evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


def registered_versions(client) -> list:
    return client.search_model_versions(f"name='{MODEL_NAME}'")


@pytest.mark.xdist_group(TRAINED_ONCE)
def test_training_job_registers_a_champion_that_serves(shared_training):
    trained = shared_training(TRAINED_ONCE)
    working_area, instance = trained.working_area, trained.instance
    result, mlflow_client = trained.result, trained.mlflow_client

    assert result.success
    outcomes = check_outcomes(result)
    assert outcomes == {name: True for name in DATA_GATES + MODEL_GATES}

    versions = registered_versions(mlflow_client)
    assert [int(version.version) for version in versions] == [1]
    record = result.output_for_node("registered_model_version")
    assert record.version == 1
    assert int(mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion").version) == 1

    import mlflow.pyfunc

    with mlflow_pointed_at(mlflow_client.tracking_uri):
        champion = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    new_rows = pd.DataFrame(
        {"conv_rate": [0.9, 0.1], "acc_rate": [0.9, 0.1], "avg_daily_trips": [30.0, 5.0]}
    ).astype({"conv_rate": "float32", "acc_rate": "float32"})
    predictions = np.asarray(champion.predict(new_rows))
    assert predictions.shape == (2,)
    assert predictions[0] > predictions[1], "a better driver should be likelier to complete"

    # The MLflow run carries the Dagster run id, the params and the metrics, and is closed.
    run = mlflow_client.get_run(record.run_id)
    assert run.data.tags["dagster_run_id"] == result.run_id
    assert run.data.params["alpha"] == "0.5"
    assert run.data.metrics["rmse"] == pytest.approx(result.output_for_node("evaluation").rmse)
    assert run.info.status == "FINISHED"
    # Artifacts stay in the working area, not in ./mlruns of whatever directory ran the job.
    experiment = mlflow_client.get_experiment(run.info.experiment_id)
    assert experiment.artifact_location.startswith(working_area.as_uri())

    # Outputs are persisted where the IO managers say, one file per asset in the run's folder.
    stored = paths.default_io_dir() / "runs" / result.run_id
    table = pd.read_parquet(stored / "training_data.parquet")
    assert len(table) == len(pd.read_parquet(paths.default_sample_orders_file()))
    assert (stored / "registered_model_version.json").exists()

    # The champion gates' check reported the judgement challenger_judgement made, once.
    lines = [log for log in instance.all_logs(result.run_id) if log.dagster_event is None]
    assert [log for log in lines if "as challenger_judgement judged" in log.user_message]
    judgement = result.output_for_node("challenger_judgement")
    assert judgement.model_uri == result.output_for_node("trained_model").model_uri
    assert judgement.champion_version is None
    assert set(judgement.outcomes) == set(MODEL_GATES[3:])


def test_a_judgement_of_another_model_fails_the_champion_gates_and_registers_nothing(
    working_area, instance, mlflow_client
):
    assert run_training(instance).success  # version 1
    # A new model trained and evaluated without its judgement: the latest judgement is of
    # version 1's model, and says nothing about this one.
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={
            AssetKey("trained_model"),
            AssetKey("evaluation"),
            AssetKey("registered_model_version"),
        }
    )
    result = job.execute_in_process(
        instance=instance,
        run_config={"ops": {"trained_model": {"config": {"alpha": 0.45}}}},
        raise_on_error=False,
    )

    found = {e.check_name: e for e in result.get_asset_check_evaluations()}
    for name in MODEL_GATES[3:]:
        assert not found[name].passed, name
        assert "judged other model_uri" in found[name].metadata["reason"].value
    differences = found["no_regression_against_champion"].metadata["differences"].value
    assert differences["model_uri"]["expected"] == result.output_for_node("trained_model").model_uri
    assert [int(version.version) for version in registered_versions(mlflow_client)] == [1]


@pytest.mark.xdist_group(TRAINED_THEN_ALPHA_045)
def test_training_twice_adds_a_version_and_moves_the_alias(shared_training):
    # Another config the second time: the same data, code and config would train the same
    # model again.
    trained = shared_training(TRAINED_THEN_ALPHA_045)
    first, second = trained.results
    mlflow_client = trained.mlflow_client
    assert first.success

    assert second.success
    assert sorted(int(v.version) for v in registered_versions(mlflow_client)) == [1, 2]
    assert int(mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion").version) == 2
    first_run, second_run = (
        mlflow_client.get_model_version(MODEL_NAME, version).run_id for version in ("1", "2")
    )
    assert first_run != second_run, "each Dagster run logs into its own MLflow run"


@pytest.mark.xdist_group(TRAINED_TWICE)
def test_unchanged_data_code_and_config_register_nothing_new(shared_training):
    trained = shared_training(TRAINED_TWICE)
    first, second = trained.results
    mlflow_client = trained.mlflow_client
    assert first.success

    assert second.success
    assert [int(v.version) for v in registered_versions(mlflow_client)] == [1]
    record = second.output_for_node("registered_model_version")
    assert record.version == 1 and record.outcome == "unchanged"
    assert record.run_id == mlflow_client.get_model_version(MODEL_NAME, "1").run_id
    assert record.trained_run_id != record.run_id


def test_a_feature_value_that_does_not_fit_its_type_fails_the_schema_gate(
    working_area, instance, mlflow_client
):
    stats_path = paths.default_driver_stats_path()
    stats = pd.read_parquet(stats_path)
    # avg_daily_trips is an Int32 feature: a fraction does not fit, so no cast is made.
    stats["avg_daily_trips"] = stats["avg_daily_trips"].astype("float64")
    stats.loc[stats.index[::7], "avg_daily_trips"] += 0.5
    stats.to_parquet(stats_path, index=False)

    result = run_training(instance)

    assert not result.success
    outcomes = check_outcomes(result)
    assert outcomes["expected_columns_with_dtypes"] is False
    evaluation = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "expected_columns_with_dtypes"
    )
    mistyped = evaluation.metadata["mistyped_columns"].value
    assert mistyped == {"avg_daily_trips": {"expected": "int32", "found": "float64"}}
    assert not _ran(result, "splits")
    assert registered_versions(mlflow_client) == []


def test_non_binary_labels_fail_their_gate(working_area, instance, mlflow_client):
    orders_path = paths.default_sample_orders_file()
    frame = pd.read_parquet(orders_path)
    frame.loc[frame.index[:3], LABEL] = 2
    frame.to_parquet(orders_path, index=False)

    result = run_training(instance)

    assert not result.success
    assert check_outcomes(result)["labels_are_binary"] is False
    assert not _ran(result, "trained_model")
    assert registered_versions(mlflow_client) == []


def test_model_trained_on_shuffled_labels_is_not_registered(working_area, instance, mlflow_client):
    orders_path = paths.default_sample_orders_file()
    frame = pd.read_parquet(orders_path)
    frame[LABEL] = np.random.default_rng(0).permutation(frame[LABEL].to_numpy())
    frame.to_parquet(orders_path, index=False)

    result = run_training(instance)

    assert not result.success
    outcomes = check_outcomes(result)
    assert all(outcomes[name] for name in DATA_GATES)
    assert outcomes["beats_mean_baseline"] is False
    assert outcomes["rmse_within_ceiling"] is False
    assert not _ran(result, "registered_model_version")
    assert registered_versions(mlflow_client) == []
    run = mlflow_client.get_run(result.output_for_node("trained_model").run_id)
    assert run.info.status == "FAILED"


def test_impossible_ceiling_from_run_config_blocks_registration(
    working_area, instance, mlflow_client
):
    result = run_training(
        instance, run_config={"resources": {"gates": {"config": {"mae_ceiling": 0.01}}}}
    )

    assert not result.success
    outcomes = check_outcomes(result)
    assert outcomes["mae_within_ceiling"] is False
    assert outcomes["rmse_within_ceiling"] is True
    evaluation = instance.get_latest_asset_check_evaluation_record(
        AssetCheckKey(AssetKey("evaluation"), "mae_within_ceiling")
    )
    assert evaluation.event.asset_check_evaluation.metadata["ceiling"].value == "0.01"
    assert registered_versions(mlflow_client) == []


def test_orders_path_from_run_config_trains_on_another_file(
    working_area, instance, mlflow_client, tmp_path
):
    other = tmp_path / "elsewhere" / "orders.parquet"
    other.parent.mkdir()
    frame = pd.read_parquet(paths.default_sample_orders_file()).iloc[:3000]
    frame.to_parquet(other, index=False)
    paths.default_sample_orders_file().unlink()

    result = run_training(
        instance,
        run_config={"resources": {"orders_source": {"config": {"orders_path": str(other)}}}},
    )

    assert result.success
    assert (
        len(stored_frame(result.run_id, "train_x")) + len(stored_frame(result.run_id, "test_x"))
        == 3000
    )
    assert list(stored_frame(result.run_id, "train_x").columns) == list(repo_schema().feature_names)


def _ran(result, node: str) -> bool:
    return any(event.step_key == node and event.is_step_success for event in result.all_events)


def test_a_worse_challenger_is_blocked_and_the_champion_stays(
    working_area, instance, mlflow_client
):
    first = run_training(instance)
    assert first.success

    # The same data trained with a far heavier penalty: a model that underfits.
    second = run_training(
        instance, run_config={"ops": {"trained_model": {"config": {"alpha": 3.0}}}}
    )

    assert not second.success
    evaluation = next(
        e
        for e in second.get_asset_check_evaluations()
        if e.check_name == "no_regression_against_champion"
    )
    assert not evaluation.passed
    figures = evaluation.metadata
    assert figures["challenger_rmse"].value > figures["champion_rmse"].value
    assert not _ran(second, "registered_model_version")
    assert int(mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion").version) == 1
    assert len(registered_versions(mlflow_client)) == 1


@pytest.mark.xdist_group(TRAINED_TWICE)
def test_the_same_data_code_and_config_reproduce_the_same_metrics(shared_training):
    first, second = shared_training(TRAINED_TWICE).results

    assert first.success and second.success
    metrics = ("rmse", "mae", "r2", "baseline_rmse")
    assert {m: first.output_for_node("evaluation").metrics()[m] for m in metrics} == {
        m: second.output_for_node("evaluation").metrics()[m] for m in metrics
    }


def test_the_champion_leads_back_to_its_data_code_and_config(working_area, instance, mlflow_client):
    from training_assets.core.data import fingerprints, orders
    from training_assets.core.tracking.lineage import git_commit
    from training_assets.core.tracking.profiles import run_config_of

    run_config = {"ops": {"splits": {"config": {"test_size": 0.25, "random_seed": 5}}}}
    result = run_training(instance, run_config=run_config)
    assert result.success

    champion = mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion")
    tags = champion.tags
    orders_version = fingerprints.content_digest(orders.order_files(paths.default_orders_path()))
    stats_version = fingerprints.content_digest([paths.default_driver_stats_path()])
    assert tags["training_assets.orders_version"] == orders_version
    assert tags["training_assets.driver_stats_version"] == stats_version
    assert tags["training_assets.data_digest"] == fingerprints.combined_digest(
        orders_version, stats_version
    )
    assert tags["training_assets.dagster_run_id"] == result.run_id
    assert tags["training_assets.git_commit"] == git_commit()
    assert tags["training_assets.git_commit"] != "unknown"
    assert (
        run_config_of(mlflow_client, champion.run_id)["ops"]["splits"]
        == run_config["ops"]["splits"]
    )

    run = mlflow_client.get_run(champion.run_id)
    [dataset_input] = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "training_data"
    assert dataset_input.dataset.source is not None


def drift_the_conversion_rate() -> None:
    stats_path = paths.default_driver_stats_path()
    stats = pd.read_parquet(stats_path)
    stats["conv_rate"] = np.clip(stats["conv_rate"] + 0.35, 0, 1).astype("float32")
    stats.to_parquet(stats_path, index=False)


def test_drift_warns_by_default_and_the_retrain_goes_on(working_area, instance, mlflow_client):
    assert run_training(instance).success
    drift_the_conversion_rate()

    result = run_training(instance)

    drift = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "drift_within_limits"
    )
    assert not drift.passed
    assert drift.severity == AssetCheckSeverity.WARN
    assert drift.metadata["level"].value == "block"
    assert drift.metadata["psi"].value["conv_rate"] > 0.25
    assert _ran(result, "splits") and _ran(result, "trained_model")


def test_drifted_features_are_blocked_when_the_code_location_says_drift_blocks(
    working_area, home, instance, mlflow_client
):
    assert run_training(instance).success
    drift_the_conversion_rate()

    # Whether the drift gate blocks is the code location's setting, not run config.
    process, log = cli_run(
        working_area, home, "drift_blocks", env={"TRAINING_ASSETS_DRIFT_BLOCKS": "1"}
    )

    assert finish(process, log) != 0, log.read_text()[-3000:]
    with open_instance(home) as cli_instance:
        [run] = cli_instance.get_runs(limit=1)  # the newest
        drift = cli_instance.get_latest_asset_check_evaluation_record(
            AssetCheckKey(AssetKey("training_data"), "drift_within_limits")
        ).event.asset_check_evaluation
        assert not drift.passed and drift.blocking
        assert drift.severity == AssetCheckSeverity.ERROR
        assert drift.metadata["psi"].value["conv_rate"] > 0.25
        assert drift.metadata["champion_version"].value == 1
        steps = {
            e.step_key
            for e in cli_instance.all_logs(run.run_id)
            if e.dagster_event and e.dagster_event.is_step_success
        }
    assert "splits" not in steps
    assert len(registered_versions(mlflow_client)) == 1


def test_a_champion_without_its_profile_warns_with_the_missing_artifact_named(
    working_area, instance, mlflow_client
):
    assert run_training(instance).success
    champion = mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion")
    # The champion's artifacts lost from the store, as after a partial restore.
    artifacts = Path(
        mlflow_client.get_run(champion.run_id).info.artifact_uri.removeprefix("file://")
    )
    (artifacts / REFERENCE_PROFILE_ARTIFACT).unlink()

    result = run_training(instance)

    drift = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "drift_within_limits"
    )
    assert not drift.passed
    assert drift.metadata["expected"].value.endswith(f"/{REFERENCE_PROFILE_ARTIFACT}")
    assert "profile cannot be read" in drift.metadata["reason"].value
    # Drift that cannot be judged blocks no more than drift does: by default the drift gate
    # is a non-blocking warning (TRAINING_ASSETS_DRIFT_BLOCKS makes both block).
    assert drift.severity == AssetCheckSeverity.WARN and not drift.blocking
    assert _ran(result, "splits")


def _report(result) -> str:
    record = result.output_for_node("model_report")
    return Path(record.report.removeprefix("file://")).read_text()


def test_a_rejected_model_has_a_report_naming_the_gates_that_stopped_it(
    working_area, instance, mlflow_client
):
    result = run_training(
        instance, run_config={"resources": {"gates": {"config": {"rmse_ceiling": 0.05}}}}
    )

    assert not result.success
    assert registered_versions(mlflow_client) == []
    record = result.output_for_node("model_report")
    assert record.verdict == "rejected"
    assert "rmse_within_ceiling" in record.gates_failed
    run = mlflow_client.get_run(record.run_id)
    assert run.data.tags["training_assets.gate_verdict"] == "rejected"
    assert "rmse_within_ceiling" in run.data.tags["training_assets.gates_failed"].split(",")
    artifacts = [a.path for a in mlflow_client.list_artifacts(record.run_id)]
    assert "model_report.html" in artifacts
    page = _report(result)
    assert "Rejected by" in page and "rmse_within_ceiling" in page
    # The data gates of the same run are in it too, with their figures.
    assert "labels_are_binary" in page and "positive_rate" in page
    # AUC, log loss and Brier score are logged with RMSE and MAE.
    assert {"auc", "log_loss", "brier", "rmse", "mae"} <= set(run.data.metrics)


@pytest.mark.xdist_group(TRAINED_THEN_ALPHA_045)
def test_a_registered_model_has_a_report_against_the_champion(shared_training):
    first, second = shared_training(TRAINED_THEN_ALPHA_045).results
    assert first.success

    assert second.success
    record = second.output_for_node("model_report")
    assert record.verdict == "passed" and record.gates_failed == []
    page = _report(second)
    assert "Passed every gate" in page
    assert "judged against champion version 1" in page
    assert "champion_rmse" in page  # slices beside the champion's
