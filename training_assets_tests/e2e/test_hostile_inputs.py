"""Hostile inputs through the public surfaces only: orders and driver stats files as users'
tools write them (pandas, spreadsheets, Feast's generator) with the faults those tools bring,
registry state edited by hand with MLflow's client, and serving before the online store was
loaded. Each test asserts the safe outcome the docs promise: an error naming the file, the
column and the value, a failed gate with its evidence, nothing registered, or a refusal naming
the version. A test marked xfail(strict) is a bug report: the product gives a wrong answer or
an unclear error there, and the reason says which.

One working area, instance and sample serve the whole module; the orders and stats cases run
only `feature_store` and `training_data` (and its gates), a second or two each."""

import os
import shutil
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterEventType, DagsterInstance

from training_assets.core import paths
from training_assets.core.data.point_in_time import features_as_of
from training_assets.core.data.sample_data import SampleSpec, write_sample
from training_assets.core.monitoring.days import days_between, event_days
from training_assets.definitions import defs
from training_assets_tests import hostile
from training_assets_tests.conftest import mlflow_pointed_at
from training_assets_tests.e2e.outputs import stored_frame, stored_training_table

MODEL_NAME = "sklearn-elastic-net-reg"
ORDERS = 300
TRAINING_DATA = [AssetKey("feature_store"), AssetKey("training_data")]


@pytest.fixture(scope="module")
def area(tmp_path_factory) -> Path:
    """A working area of the module's own, holding the default sample."""
    root = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(paths.WORKING_AREA_ENV, str(root / "var"))
        for name in [key for key in os.environ if key.startswith("MLFLOW_")]:
            patch.delenv(name)
        write_sample(
            SampleSpec(), paths.default_sample_orders_file(), paths.default_driver_stats_path()
        )
        (root / "files").mkdir()
        yield root / "var"
        if mlflow.active_run() is not None:
            mlflow.end_run()


@pytest.fixture(scope="module")
def instance(area: Path) -> DagsterInstance:
    home = area.parent / "dagster_home"
    home.mkdir()
    shutil.copy(paths.PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    with DagsterInstance.local_temp(str(home)) as local:
        yield local


@pytest.fixture(scope="module")
def files(area: Path) -> Path:
    return area.parent / "files"


@pytest.fixture(scope="module")
def stats(area: Path) -> pd.DataFrame:
    return pd.read_parquet(paths.default_driver_stats_path())


@pytest.fixture(scope="module")
def orders(area: Path, stats: pd.DataFrame) -> pd.DataFrame:
    """A few hundred of the sample's orders, all of known drivers within the stats' range."""
    every = pd.read_parquet(paths.default_sample_orders_file())
    known = every["driver_id"].isin(stats["driver_id"]) & (
        every["event_timestamp"] > stats["datetime"].min() + pd.Timedelta(hours=1)
    )
    return every[known].head(ORDERS).reset_index(drop=True)


@pytest.fixture(scope="module")
def clean_orders(orders: pd.DataFrame, files: Path) -> Path:
    path = files / "clean.parquet"
    orders.to_parquet(path, index=False)
    return path


def build_table(instance, orders_path: Path, stats_path: Path | None = None, **feast):
    """`feature_store` and `training_data` with its gates, on these files."""
    resources = {
        "orders_source": {"config": {"orders_path": str(orders_path)}},
        "gates": {"config": {"min_rows": 100}},
    }
    if stats_path is not None or feast:
        config = {**feast}
        if stats_path is not None:
            config["driver_stats_path"] = str(stats_path)
        resources["feast"] = {"config": config}
    return defs.resolve_job_def("training_job").execute_in_process(
        instance=instance,
        run_config={"resources": resources},
        asset_selection=TRAINING_DATA,
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def clean_table(instance, clean_orders: Path) -> pd.DataFrame:
    result = build_table(instance, clean_orders)
    assert result.success
    return ordered(stored_training_table(result.run_id).to_pandas())


def ordered(table: pd.DataFrame) -> pd.DataFrame:
    keys = ["driver_id", "event_timestamp", "trip_completed"]
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


def step_error(result, step: str = "training_data") -> str:
    """The failed step's error with every cause it chained, as the run's log shows them."""
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE and event.step_key == step:
            error, messages = event.step_failure_data.error, []
            while error is not None:
                messages.append(error.message)
                error = error.cause
            return "\n".join(messages)
    raise AssertionError(f"{step} did not fail: {result.success=}")


def failed_check(result, name: str):
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    assert not evaluation.passed, f"{name} passed"
    assert evaluation.severity == AssetCheckSeverity.ERROR
    return {key: value.value for key, value in evaluation.metadata.items()}


def assert_names(message: str, *parts: str) -> None:
    missing = [part for part in parts if part not in message]
    assert not missing, f"the error does not name {missing}:\n{message}"


# ---- orders ------------------------------------------------------------------------------


def test_mixed_time_zones_in_one_file_read_each_value_as_the_contract_says(
    instance, orders, files, clean_table
):
    path, utc = hostile.mixed_time_zones(orders, files / "mixed_zones.csv")
    text = path.read_text()
    assert "+01:00," in text and "Z," in text and "\n2025-12-2" in text

    result = build_table(instance, path)

    assert result.success
    table = ordered(stored_training_table(result.run_id).to_pandas())
    pd.testing.assert_frame_equal(table, clean_table)


@pytest.mark.parametrize("column", ["event_timestamp", "driver_id"])
def test_a_null_key_in_the_orders_names_the_file_the_column_and_the_count(
    instance, orders, files, column
):
    path = hostile.with_nulls(orders, column, [3, 7], files / f"null_{column}.csv")

    result = build_table(instance, path)

    assert not result.success
    assert_names(step_error(result), str(path), f"'{column}': 2")


def test_a_null_label_fails_the_binary_label_gate_with_the_count(instance, orders, files):
    path = hostile.with_nulls(orders, "trip_completed", [3, 7], files / "null_label.csv")

    result = build_table(instance, path)

    assert not result.success
    evidence = failed_check(result, "labels_are_binary")
    assert evidence["null_labels"] == 2


def test_two_exports_pasted_together_name_the_second_header_line(instance, orders, files):
    path = hostile.pasted_exports(orders, files / "pasted.csv")

    result = build_table(instance, path)

    assert not result.success
    assert_names(step_error(result), str(path), "'event_timestamp'", "value")


@pytest.mark.parametrize(
    "writer", [hostile.spreadsheet_utf8, hostile.semicolons], ids=["bom_crlf", "semicolons"]
)
def test_spreadsheet_exports_read_as_the_same_orders(instance, orders, files, clean_table, writer):
    path = writer(orders, files / f"{writer.__name__}.csv")

    result = build_table(instance, path)

    assert result.success
    table = ordered(stored_training_table(result.run_id).to_pandas())
    pd.testing.assert_frame_equal(table, clean_table)


def test_yes_no_labels_are_named_with_the_file_and_the_column(instance, orders, files):
    path = hostile.yes_no_labels(orders, files / "yes_no.csv")

    result = build_table(instance, path)

    assert not result.success
    assert_names(step_error(result), str(path), "trip_completed", "'yes'")


def test_float_driver_ids_are_named_as_not_integers(instance, orders, files):
    path = hostile.float_driver_ids(orders, files / "float_ids.csv")

    result = build_table(instance, path)

    # Either read as the integers they are, or refused naming the column; never joined as
    # other drivers.
    assert not result.success
    assert_names(step_error(result), str(path), "'driver_id'", "integer")


def test_a_time_past_the_readers_range_is_named_as_out_of_range(instance, orders, files):
    path = hostile.at_times(orders, ["9999-12-31 00:00:00"], files / "far_future.csv")

    result = build_table(instance, path)

    assert not result.success
    message = step_error(result)
    assert_names(message, str(path), "'event_timestamp'", "9999-12-31")
    assert "range" in message or "2262" in message, message


def test_orders_after_the_features_end_fail_the_null_gate(instance, orders, files):
    # A tenth of the orders in 2100: no stats row is in force then (the view's TTL is a day).
    times = ["2100-01-01 00:00:00+00:00"] * (ORDERS // 10)
    path = hostile.at_times(orders, times, files / "year_2100.csv")

    result = build_table(instance, path)

    assert not result.success
    evidence = failed_check(result, "feature_nulls_within_rate")
    assert evidence["over_limit"] == pytest.approx(
        {"conv_rate": 0.1, "acc_rate": 0.1, "avg_daily_trips": 0.1}
    )


def test_orders_before_the_features_start_fail_the_null_gate(instance, orders, files):
    path = hostile.shifted(orders, -pd.Timedelta(days=60), files / "before.parquet")

    result = build_table(instance, path)

    assert not result.success
    evidence = failed_check(result, "feature_nulls_within_rate")
    assert set(evidence["over_limit"].values()) == {1.0}


def test_an_empty_orders_file_is_named_as_empty(instance, files):
    path = hostile.empty_file(files / "empty.csv")

    result = build_table(instance, path)

    assert not result.success
    assert_names(step_error(result), str(path), "Empty")


def test_a_header_only_orders_file_is_named_as_holding_no_orders(instance, files):
    path = hostile.header_only(files / "header_only.csv")

    result = build_table(instance, path)

    assert not result.success
    message = step_error(result)
    assert_names(message, str(path))
    assert "no rows" in message or "no orders" in message or "empty" in message, message


# ---- driver stats ------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["datetime", "created"])
def test_null_feature_times_fail_their_gate_naming_file_column_and_count(
    instance, clean_orders, stats, files, column
):
    path = hostile.stats_with_nulls(stats, column, 0.1, files / f"stats_null_{column}.parquet")
    nulls = int(pd.read_parquet(path)[column].isna().sum())

    result = build_table(instance, clean_orders, path)

    assert not result.success
    evidence = failed_check(result, "feature_times_not_null")
    assert evidence["null_counts"][f"driver_stats.{column}"] == nulls
    assert_names(evidence["reason"], str(path), f"driver_stats.{column}", str(nulls))


@pytest.mark.parametrize("column", ["conv_rate", "acc_rate", "avg_daily_trips"])
def test_null_features_fail_the_null_gate_naming_the_column(
    instance, clean_orders, stats, files, column
):
    path = hostile.stats_with_nulls(stats, column, 0.1, files / f"stats_null_{column}.parquet")

    result = build_table(instance, clean_orders, path)

    assert not result.success
    evidence = failed_check(result, "feature_nulls_within_rate")
    assert list(evidence["over_limit"]) == [column]


def test_null_driver_ids_in_the_stats_file_are_counted_and_block(
    instance, clean_orders, stats, files
):
    path = hostile.stats_with_nulls(stats, "driver_id", 0.1, files / "stats_null_driver.parquet")

    result = build_table(instance, clean_orders, path)

    assert not result.success
    failures = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert any("driver_id" in str(e.metadata) for e in failures) or "driver_id" in step_error(
        result
    )


@pytest.mark.parametrize("column", hostile.STATS_COLUMNS)
def test_a_stats_file_without_a_column_names_it_and_its_role(
    instance, clean_orders, stats, files, column
):
    path = hostile.stats_without(stats, column, files / f"stats_without_{column}.parquet")

    result = build_table(instance, clean_orders, path)

    assert not result.success
    assert_names(step_error(result), str(path), f"missing column(s) '{column}'", "expected")


def test_an_hour_written_twice_joins_its_latest_created_version(
    instance, orders, clean_orders, stats, files
):
    path, corrections = hostile.rewritten_hours(stats, orders, files / "rewritten.parquet")
    assert len(corrections) >= ORDERS // 2

    result = build_table(instance, clean_orders, path)

    assert result.success
    table = stored_training_table(result.run_id).to_pandas()
    # Every order fell in a corrected hour: the correction (created later) must win, wherever
    # it stands in the file.
    assert (table["avg_daily_trips"] == 777).all(), table["avg_daily_trips"].value_counts()


@pytest.mark.parametrize("filter_by_created", [False, True])
def test_rows_created_before_their_hour_are_joined_at_their_hour_never_earlier(
    instance, orders, clean_orders, stats, files, filter_by_created
):
    path = hostile.created_before_datetime(stats, files / "created_early.parquet")

    result = build_table(
        instance, clean_orders, path, filter_by_created_timestamp=filter_by_created
    )

    assert result.success
    table = ordered(stored_training_table(result.run_id).to_pandas())
    # `created` a day early must not make an hour's row usable before the hour itself.
    assert (table["feature_timestamp"] <= table["event_timestamp"]).all()
    expected = features_as_of(orders, stats).assign(
        driver_id=orders["driver_id"], event_timestamp=orders["event_timestamp"]
    )
    expected = expected.sort_values(["driver_id", "event_timestamp"], kind="stable")
    np.testing.assert_allclose(
        table["conv_rate"].to_numpy(), expected["conv_rate"].to_numpy(), rtol=1e-6
    )


def test_text_times_with_mixed_offsets_join_the_same_hours(
    instance, clean_orders, stats, files, clean_table
):
    path = hostile.text_times_mixed_offsets(stats, files / "text_times.parquet")

    result = build_table(instance, clean_orders, path)

    # Read as the instants they write (as the orders' text times are), or refused naming the
    # column; never compared as text.
    assert result.success
    table = ordered(stored_training_table(result.run_id).to_pandas())
    pd.testing.assert_frame_equal(table, clean_table)


# ---- the registry, edited by hand ------------------------------------------------------


def train(instance, model_name: str, promotion: str = "automatic", alpha: float = 0.5):
    return defs.resolve_job_def("training_job").execute_in_process(
        instance=instance,
        run_config={
            "resources": {
                "model_registry": {"config": {"model_name": model_name, "promotion": promotion}}
            },
            "ops": {"trained_model": {"config": {"alpha": alpha}}},
        },
        raise_on_error=False,
    )


def move_champion(instance, job_name: str, model_name: str, **config):
    return defs.resolve_job_def(job_name).execute_in_process(
        instance=instance,
        run_config={
            "resources": {"model_registry": {"config": {"model_name": model_name}}},
            "ops": {"champion_model": {"config": config}},
        },
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def client(area: Path) -> mlflow.MlflowClient:
    from training_assets.defs.resources.mlflow import MlflowStore

    return MlflowStore().configure_client()


def register_by_hand(client, model_name: str, copy_tags_from: str | None = None) -> str:
    """A "quick fix" registered from a notebook: a constant model that passed no gate, logged
    and registered with MLflow's own calls; with `copy_tags_from`, every tag of that gated
    version (and of its run) copied onto the new version (and its run), as someone who wants
    the promote job to take it would."""
    from sklearn.dummy import DummyRegressor

    inputs = pd.DataFrame(
        {"conv_rate": [0.5], "acc_rate": [0.5], "avg_daily_trips": [20.0]}
    ).astype({"conv_rate": "float32", "acc_rate": "float32"})
    with mlflow_pointed_at(client.tracking_uri):
        with mlflow.start_run(run_name="quick fix") as run:
            model = DummyRegressor(strategy="constant", constant=1.0).fit(inputs, [1.0])
            mlflow.sklearn.log_model(model, name="model", input_example=inputs)
        version = str(mlflow.register_model(f"runs:/{run.info.run_id}/model", model_name).version)
    if copy_tags_from is not None:
        gated = client.get_model_version(model_name, copy_tags_from)
        for key, value in gated.tags.items():
            client.set_model_version_tag(model_name, version, key, value)
        for key, value in client.get_run(gated.run_id).data.tags.items():
            if not key.startswith("mlflow."):
                client.set_tag(run.info.run_id, key, value)
    return str(version)


def champion_of(client, model_name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(model_name, "champion").version)
    except mlflow.exceptions.MlflowException:
        return None


@pytest.fixture(scope="module")
def hand_registry(instance, client) -> str:
    """A model whose v1 a gated run registered as champion, and v2 registered by hand."""
    name = "hostile-hand"
    assert train(instance, name).success
    assert register_by_hand(client, name) == "2"
    return name


@pytest.mark.slow
def test_promoting_a_version_registered_by_hand_is_refused_by_number(
    instance, client, hand_registry
):
    result = move_champion(
        instance, "promote_model_job", hand_registry, action="promote", version=2, reason="fix"
    )

    assert not result.success
    assert_names(step_error(result, "champion_model"), f"{hand_registry} version 2")
    assert champion_of(client, hand_registry) == "1"


@pytest.mark.slow
def test_promoting_by_hand_through_the_command_line_with_yaml_config_is_refused(
    area, client, hand_registry
):
    from training_assets_tests.e2e.cli import cli_run, finish

    config = {
        "resources": {"model_registry": {"config": {"model_name": hand_registry}}},
        "ops": {"champion_model": {"config": {"action": "promote", "version": 2, "reason": "x"}}},
    }
    launch = ("job", "execute", "-m", "training_assets.definitions", "-j", "promote_model_job")
    process, log = cli_run(
        area, area.parent / "dagster_home", "promote_by_hand", config=config, launch=launch
    )

    assert finish(process, log) != 0
    assert_names(log.read_text(), f"{hand_registry} version 2 was not registered by a gated")
    assert champion_of(client, hand_registry) == "1"


@pytest.mark.slow
def test_a_version_with_copied_tags_is_still_refused(instance, client):
    name = "hostile-copied-tags"
    assert train(instance, name).success
    forged = register_by_hand(client, name, copy_tags_from="1")

    result = move_champion(
        instance, "promote_model_job", name, action="promote", version=int(forged), reason="x"
    )

    assert champion_of(client, name) == "1", "an ungated model reached @champion"
    assert not result.success
    assert_names(step_error(result, "champion_model"), f"{name} version {forged}")


@pytest.mark.slow
def test_a_forged_rollback_target_is_refused_naming_the_version(instance, client):
    name = "hostile-rollback"
    assert train(instance, name).success
    assert train(instance, name, alpha=0.4).success
    assert champion_of(client, name) == "2"
    forged = register_by_hand(client, name)
    client.set_model_version_tag(name, "2", "training_assets.champion.previous", forged)

    result = move_champion(instance, "rollback_model_job", name, action="rollback", reason="x")

    assert champion_of(client, name) in ("2", "1"), "rollback put an ungated model in production"
    if not result.success:
        assert_names(step_error(result, "champion_model"), f"{name} version {forged}")


@pytest.mark.slow
@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_a_promotion_without_a_reason_is_refused_and_moves_nothing(instance, client, reason):
    name = f"hostile-reason-{len(reason)}"
    assert train(instance, name, promotion="manual").success
    assert champion_of(client, name) is None

    result = move_champion(instance, "promote_model_job", name, action="promote", reason=reason)

    assert champion_of(client, name) is None
    assert not result.success
    assert_names(step_error(result, "champion_model"), "reason")


# ---- serving before the online store was loaded -----------------------------------------


@pytest.fixture(scope="module")
def champion(instance, client) -> str:
    """A gated champion under the default model name; the online store is never loaded."""
    assert train(instance, MODEL_NAME).success
    return champion_of(client, MODEL_NAME)


def score_batch(instance, requests: Path, first: date, last: date) -> pd.DataFrame:
    """Every row of the request files, scored by one run over the days `first` to `last`."""
    result = defs.resolve_job_def("batch_predictions_job").execute_in_process(
        instance=instance,
        run_config={"resources": {"batch_requests": {"config": {"requests_path": str(requests)}}}},
        tags={
            "dagster/asset_partition_range_start": str(first),
            "dagster/asset_partition_range_end": str(last),
        },
        raise_on_error=False,
    )
    assert result.success, step_error(result, "batch_predictions")
    return pd.concat(
        [
            stored_frame(result.run_id, f"batch_predictions/{day}")
            for day in days_between(first, last)
        ],
        ignore_index=True,
    )


@pytest.mark.slow
def test_batch_requests_from_a_spreadsheet_score_as_the_clean_file_does(
    instance, champion, orders, files
):
    clean = files / "requests_clean"
    clean.mkdir()
    orders[["event_timestamp", "driver_id"]].to_parquet(clean / "requests.parquet", index=False)
    hostile_folder = files / "requests_hostile"
    hostile_folder.mkdir()
    # Mixed zones, a BOM and CRLF, and a "yes"/"no" label column the requests do not use.
    path, _ = hostile.mixed_time_zones(orders, files / "mixed_requests.csv")
    mixed = pd.read_csv(path, dtype=str)
    mixed["trip_completed"] = mixed["trip_completed"].map({"1": "yes", "0": "no"})
    text = mixed.to_csv(index=False, lineterminator="\r\n")
    (hostile_folder / "requests.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))

    first, last = event_days(orders["event_timestamp"]).agg(["min", "max"])
    expected = score_batch(instance, clean, first, last)
    scored = score_batch(instance, hostile_folder, first, last)

    assert len(scored) == len(orders)
    keys = ["driver_id", "event_timestamp"]
    scored = scored.sort_values(keys, kind="stable").reset_index(drop=True)
    expected = expected.sort_values(keys, kind="stable").reset_index(drop=True)
    assert scored["features_found"].all()
    np.testing.assert_allclose(scored["prediction"], expected["prediction"], rtol=1e-6)
    assert set(scored["model_version"].astype(str)) == {champion}


@pytest.mark.slow
def test_predict_refuses_an_online_store_never_loaded(area, champion, orders, capsys, monkeypatch):
    from training_assets_tests.e2e.test_online_serving import predict_here

    # In this process: the command's own process meets an unloaded store in test_online_serving.
    monkeypatch.setenv(paths.WORKING_AREA_ENV, str(area))
    code, answers, errors = predict_here(capsys, str(int(orders["driver_id"].iloc[0])), "--impute")

    assert code == 2
    assert answers == []
    assert_names(errors, "'driver_stats' was never loaded", "Materialize online_features")
