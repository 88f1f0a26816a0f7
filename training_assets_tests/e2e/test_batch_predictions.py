"""Batch predictions on the real Feast repo, MLflow store and instance: a request file in the
course's format (tab-separated event_timestamp, driver_id), scored by @champion with
point-in-time features, equals scoring the same rows by hand, stored per day of the rows' event
time and logged with an identity; the scoring sensor asks for the days the file covers, and
again when the champion moves."""

import numpy as np
import pandas as pd
from dagster import RunRequest, build_sensor_context

from training_assets.core import paths
from training_assets.core.data.point_in_time import features_as_of
from training_assets.core.monitoring.days import days_between, event_days
from training_assets.core.monitoring.sinks import prediction_sink
from training_assets.definitions import defs
from training_assets.defs.automation.sensors import batch_scoring_sensor
from training_assets.defs.resources.batch_requests import BatchRequests
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets_tests.conftest import mlflow_pointed_at
from training_assets_tests.e2e.outputs import stored_frame
from training_assets_tests.e2e.test_pipeline import MODEL_NAME, run_training

FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]
TTL = pd.Timedelta(days=1)


def request_file(count: int = 300) -> pd.DataFrame:
    """Rows at random times within the stats' range, one before any stats and one for a
    driver with none, written where the requests land by default."""
    stats = pd.read_parquet(paths.default_driver_stats_path())
    rng = np.random.default_rng(21)
    start, end = stats["datetime"].min(), stats["datetime"].max()
    seconds = rng.integers(0, int((end - start).total_seconds()), count)
    rows = pd.DataFrame(
        {
            "event_timestamp": start + pd.to_timedelta(seconds, unit="s"),
            "driver_id": rng.choice(stats["driver_id"].unique(), count),
        }
    )
    extra = pd.DataFrame(
        {
            "event_timestamp": [start - pd.Timedelta(hours=3), end],
            "driver_id": [int(stats["driver_id"].iloc[0]), 999_999],
        }
    )
    rows = pd.concat([rows, extra], ignore_index=True)
    folder = paths.default_batch_requests_path()
    folder.mkdir(parents=True)
    rows.to_csv(folder / "driver_orders.tsv", sep="\t", index=False)
    return rows


def by_hand(rows: pd.DataFrame, train_x: pd.DataFrame) -> np.ndarray:
    """The same rows scored without Feast: the stats row in force (within the view's TTL),
    then the champion loaded from the registry."""
    import mlflow.pyfunc

    stats = pd.read_parquet(paths.default_driver_stats_path())
    found = features_as_of(rows, stats)
    stale = (rows["event_timestamp"] - found["datetime"]) > TTL
    features = found[FEATURES].mask(stale)
    with mlflow_pointed_at(MlflowStore().resolved_tracking_uri()):
        model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    return np.asarray(model.predict(features.astype(train_x.dtypes.to_dict())), dtype=float)


def tick(instance, cursor):
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "batch_requests": BatchRequests(),
            "mlflow_store": MlflowStore(),
            "model_registry": ModelRegistry(),
        },
    )
    return batch_scoring_sensor(context), context.cursor


def logged_rows(days) -> pd.DataFrame:
    sink = prediction_sink()
    return pd.concat([sink.read(day).to_pandas() for day in days], ignore_index=True)


def test_batch_predictions_equal_scoring_by_hand_and_follow_the_champion(
    working_area, instance, mlflow_client
):
    first = run_training(instance)
    assert first.success
    rows = request_file()
    start = pd.read_parquet(paths.default_driver_stats_path())["datetime"].min()
    # A request for a day no partition holds yet (a writer's typo of the year) is counted and
    # left out of the days the sensor asks for, and out of the scores.
    future = pd.DataFrame(
        {"event_timestamp": [pd.Timestamp("2200-01-01", tz="UTC")], "driver_id": [1001]}
    )
    future.to_csv(paths.default_batch_requests_path() / "typo.tsv", sep="\t", index=False)

    skipped, cursor = tick(instance, None)
    assert "waiting for them to settle" in skipped.skip_message
    request, cursor = tick(instance, cursor)
    assert isinstance(request, RunRequest) and "-v1-" in request.run_key
    # One run over the days the file covers: the first row's day to the last's.
    days = sorted(event_days(rows["event_timestamp"]).unique())
    assert request.tags["dagster/asset_partition_range_start"] == str(days[0])
    assert request.tags["dagster/asset_partition_range_end"] == str(days[-1])
    result = defs.resolve_job_def("batch_predictions_job").execute_in_process(
        instance=instance, tags=request.tags
    )

    assert result.success
    per_day = result.output_for_node("batch_predictions")
    assert list(per_day) == [str(day) for day in days_between(days[0], days[-1])]
    scored = pd.concat(per_day.values(), ignore_index=True)
    # Each day's rows in request order; the days in order.
    rows = rows.iloc[np.argsort(event_days(rows["event_timestamp"]).to_numpy(), kind="stable")]
    rows = rows.reset_index(drop=True)
    assert len(scored) == len(rows)
    pd.testing.assert_series_equal(
        scored["driver_id"], rows["driver_id"].astype("int64"), check_names=False
    )
    assert (scored["model_version"] == 1).all() and (scored["model_name"] == MODEL_NAME).all()
    expected = by_hand(rows, stored_frame(first.run_id, "train_x"))
    np.testing.assert_allclose(scored["prediction"].to_numpy(), expected, rtol=1e-5)
    # The row before any stats and the unknown driver were scored on missing features, and
    # say so beside their prediction.
    missing = scored.index[(scored["driver_id"] == 999_999) | (scored["event_timestamp"] < start)]
    assert len(missing) == 2
    assert scored.loc[missing, FEATURES].isna().all(axis=None)
    assert (
        list(scored.columns).index("features_found") == list(scored.columns).index("prediction") - 1
    )
    assert scored["features_found"].tolist() == scored[FEATURES].notna().any(axis=1).tolist()
    assert scored.loc[missing, "features_found"].tolist() == [False, False]
    materializations = result.asset_materializations_for_node("batch_predictions")
    assert sorted(m.partition for m in materializations) == list(per_day)
    assert materializations[0].metadata["rows_without_features"].value == int(
        (~scored["features_found"]).sum()
    )
    assert materializations[0].metadata["rows_in_other_days"].value == 1
    assert instance.get_run_by_id(result.run_id).tags["training_assets/champion_version"] == "1"
    # Every row is in the prediction log under its day, with the id the output gives it.
    logged = logged_rows(days)
    assert sorted(logged["prediction_id"]) == sorted(scored["prediction_id"])
    assert set(logged["source"]) == {"batch"} and set(logged["role"]) == {"champion"}
    by_id = logged.set_index("prediction_id").loc[scored["prediction_id"]]
    np.testing.assert_allclose(by_id["prediction"], scored["prediction"])
    assert (by_id["driver_id"].to_numpy() == scored["driver_id"].to_numpy()).all()
    # The days the run stored are each day's own rows.
    for day, frame in per_day.items():
        assert (event_days(frame["event_timestamp"]).astype(str) == day).all()

    # The champion moves: the same requests are asked for again, under a new key.
    assert run_training(instance, {"ops": {"trained_model": {"config": {"alpha": 0.45}}}}).success
    again, cursor = tick(instance, cursor)
    assert isinstance(again, RunRequest) and "-v2-" in again.run_key
    assert again.run_key.split("-v")[0] == request.run_key.split("-v")[0]

    # Rolled back to version 1, which scored these requests before: they are scored again,
    # since the latest predictions are version 2's.
    rollback = defs.resolve_job_def("rollback_model_job").execute_in_process(
        instance=instance,
        run_config={
            "ops": {
                "champion_model": {
                    "config": {"action": "rollback", "reason": "version 2 scores worse live"}
                }
            }
        },
    )
    assert rollback.success
    back, cursor = tick(instance, cursor)
    assert isinstance(back, RunRequest) and "-v1-" in back.run_key
    assert back.run_key != request.run_key
