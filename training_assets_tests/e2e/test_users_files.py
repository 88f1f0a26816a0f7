"""The whole graph on files the project did not write: driver stats made by Feast's own
generator in the standard layout (datetime, driver_id, conv_rate, acc_rate, avg_daily_trips,
created) with ordinary float64/int64 widths, and orders in the course's tab-separated format."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from dagster import AssetCheckSeverity, AssetKey
from feast.driver_test_data import create_driver_hourly_stats_df

from training_assets.core import paths, timing
from training_assets.core.data.point_in_time import features_as_of
from training_assets.definitions import defs
from training_assets_tests.e2e.outputs import stored_training_table

START = pd.Timestamp("2021-04-01", tz="UTC")
END = pd.Timestamp("2021-04-15", tz="UTC")
DRIVERS = list(range(5001, 5021))


@pytest.fixture
def users_files(working_area: Path, tmp_path: Path) -> dict:
    return feast_style_files(tmp_path)


def feast_style_files(folder: Path) -> dict:
    """Feast's generated stats and course-style orders whose labels follow those stats, as
    `driver_stats.parquet` and `driver_orders.csv` (tab-separated) in `folder`."""
    np.random.seed(11)
    generated = create_driver_hourly_stats_df(DRIVERS, START, END)
    stats = generated.rename(columns={"event_timestamp": "datetime"})[
        ["datetime", "driver_id", "conv_rate", "acc_rate", "avg_daily_trips", "created"]
    ].astype({"conv_rate": "float64", "acc_rate": "float64", "avg_daily_trips": "int64"})
    stats_path = folder / "driver_stats.parquet"
    stats.to_parquet(stats_path, index=False)

    rng = np.random.default_rng(12)
    count = 4000
    seconds = rng.integers(3600, int((END - START).total_seconds()), count)
    orders = pd.DataFrame(
        {
            "event_timestamp": START + pd.to_timedelta(seconds, unit="s"),
            "driver_id": rng.choice(DRIVERS, count).astype(np.int64),
        }
    )
    current = features_as_of(orders, stats)
    logit = 5 * (current["conv_rate"] - 0.5) + 4 * (current["acc_rate"] - 0.5)
    logit += 0.002 * (current["avg_daily_trips"] - 500) + rng.normal(0, 0.3, count)
    orders["trip_completed"] = (rng.random(count) < 1 / (1 + np.exp(-logit))).astype(int)
    orders["order_id"] = np.arange(count)  # a column the pipeline does not use
    orders_path = folder / "driver_orders.csv"
    orders.to_csv(orders_path, sep="\t", index=False)
    assert "+00:00" in orders_path.read_text().splitlines()[1]
    return {"stats": stats_path, "orders": orders_path}


def run_config(files: dict, **feast) -> dict:
    return {
        "resources": {
            "orders_source": {"config": {"orders_path": str(files["orders"])}},
            "feast": {"config": {"driver_stats_path": str(files["stats"]), **feast}},
        }
    }


def evaluations(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_the_standard_stats_file_and_a_tsv_of_orders_train_and_register(
    users_files, instance, mlflow_client
):
    job = defs.resolve_job_def("training_job")

    result = job.execute_in_process(instance=instance, run_config=run_config(users_files))

    assert result.success
    table = stored_training_table(result.run_id)
    # Cast to the feature view's declared types, whatever widths the file had.
    assert str(table.schema.field("conv_rate").type) == "float"
    assert str(table.schema.field("avg_daily_trips").type) == "int32"
    checks = evaluations(result)
    assert checks["expected_columns_with_dtypes"].passed
    assert checks["features_not_from_the_future"].passed
    # Feast's generator stamps every row as created when it ran, after all these orders: the
    # audit says so, as a warning by default.
    late = checks["features_created_before_order"]
    assert not late.passed and late.severity == AssetCheckSeverity.WARN
    assert late.metadata["rows_created_after_order"].value == table.num_rows
    versions = mlflow_client.search_model_versions("name='sklearn-elastic-net-reg'")
    assert [int(version.version) for version in versions] == [1]
    materialization = result.asset_materializations_for_node("training_data")[0]
    assert materialization.metadata["ignored_order_columns"].value == ["order_id"]


def test_filtering_by_created_time_keeps_rows_written_later_out_of_the_join(
    users_files, instance, mlflow_client
):
    job = defs.resolve_job_def("training_job")

    result = job.execute_in_process(
        instance=instance,
        run_config=run_config(users_files, filter_by_created_timestamp=True),
        raise_on_error=False,
    )

    assert not result.success
    checks = evaluations(result)
    # No row existed yet when any of these orders happened, so none is joined.
    assert checks["features_created_before_order"].passed
    nulls = checks["feature_nulls_within_rate"]
    assert not nulls.passed
    assert nulls.metadata["null_rates"].value == {
        "conv_rate": 1.0,
        "acc_rate": 1.0,
        "avg_daily_trips": 1.0,
    }
    assert mlflow_client.search_model_versions("name='sklearn-elastic-net-reg'") == []


def test_joining_in_slices_writes_the_table_joining_at_once_writes(users_files, instance):
    job = defs.resolve_job_def("training_job")

    def training_table(**feast) -> tuple[pa.Table, dict, int]:
        with timing.recording() as calls:
            result = job.execute_in_process(
                instance=instance,
                run_config=run_config(users_files, **feast),
                asset_selection=[AssetKey("feature_store"), AssetKey("training_data")],
            )
        assert result.success
        metadata = result.asset_materializations_for_node("training_data")[0].metadata
        figures = {
            name: metadata[name].value
            for name in ("dagster/row_count", "rows_without_features", "positive_rate")
        }
        joins = calls["historical_features"]["calls"]
        return stored_training_table(result.run_id), figures, joins

    at_once, whole, one_join = training_table()
    # 4,000 orders in five slices, the last one short.
    in_slices, added_up, joins = training_table(join_slice_rows=999)

    assert (one_join, joins) == (1, 5)
    assert at_once.num_rows == 4000
    assert in_slices.equals(at_once)
    assert added_up == pytest.approx(whole)
    assert not list((paths.working_area() / "staging").rglob("*.parquet"))


def without_created(files: dict, which: str) -> None:
    """The stats file rewritten with driver-hours written twice, the later version last, as an
    appending writer leaves them, and `created` null on `which` rows: "all", or "some" (the
    two versions of each rewritten hour), so the join cannot tell the stale one."""
    stats = pd.read_parquet(files["stats"])
    rewritten = stats.sample(40, random_state=13).assign(avg_daily_trips=999)
    stats = pd.concat([stats, rewritten], ignore_index=True)
    if which == "all":
        stats["created"] = pd.NaT
    else:
        twice = stats.duplicated(["driver_id", "datetime"], keep=False)
        stats.loc[twice, "created"] = pd.NaT
    stats.to_parquet(files["stats"], index=False)


@pytest.mark.parametrize("which", ["all", "some"])
def test_a_stats_file_without_created_times_registers_no_model(
    users_files, instance, mlflow_client, which
):
    without_created(users_files, which)
    stats = pd.read_parquet(users_files["stats"])
    nulls = int(stats["created"].isna().sum())
    job = defs.resolve_job_def("training_job")

    result = job.execute_in_process(
        instance=instance, run_config=run_config(users_files), raise_on_error=False
    )

    assert not result.success
    assert mlflow_client.search_model_versions("name='sklearn-elastic-net-reg'") == []
    check = evaluations(result)["feature_times_not_null"]
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    metadata = {key: value.value for key, value in check.metadata.items()}
    assert metadata["max_null_rate"] == "0.0"
    assert "created null on at most 0.0" in metadata["expected"]
    assert metadata["null_counts"] == {"driver_stats.datetime": 0, "driver_stats.created": nulls}
    assert metadata["null_rates.driver_stats.created"] == nulls / len(stats)
    assert metadata["files"] == {"driver_stats": str(users_files["stats"])}
    assert f"driver_stats.created null on {nulls} of {len(stats)} rows" in metadata["reason"]
    assert str(users_files["stats"]) in metadata["reason"]
