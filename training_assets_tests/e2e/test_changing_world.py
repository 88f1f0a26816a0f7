"""The whole loop on a world whose label relation turns on one day, and on the same world
without the turn.

The world is drawn here, by a generator the pipeline does not share: hourly driver stats, and
orders whose label follows the driver's conversion rate as of the order (a logistic relation
of the test's own). On CHANGE the relation flips. The pipeline trains on the newest
WINDOW_DAYS of orders (`training_window_days`, a standing setting of the deployment) under
the shadow promotion policy; then the days after training are scored as batch requests and
their labels arrive as new orders files. On the changed world the loop must see the turn in
the outcomes, request one retrain, score the retrained model in shadow on the next days, and
move @champion to it; on the steady world it must request nothing.
"""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, RunRequest, SkipReason

from training_assets.core import paths
from training_assets.definitions import build_definitions, defs
from training_assets_tests.e2e.test_monitoring import (
    batch_tick,
    check_results,
    outcomes_tick,
    retrain_tick,
    run_requests,
    settled,
    shadow_tick,
)
from training_assets_tests.e2e.test_pipeline import MODEL_NAME

DRIVERS = np.arange(2001, 2041)
ORDERS_PER_DAY = 400
FIRST = date(2026, 3, 1)
TRAINED_UNTIL = date(2026, 3, 29)  # training sees orders before this day
CHANGE = date(2026, 3, 31)  # the relation flips from this day on
SCORED = [TRAINED_UNTIL + timedelta(days=i) for i in range(6)]  # two steady days, four turned
SHADOWED = [SCORED[-1] + timedelta(days=i) for i in range(1, 5)]
WINDOW_DAYS = 4
# The deployment's standing settings, from its environment, as deploy/production.env sets
# them: every training run, sensor-started ones too, trains on the window under `shadow`.
ENVIRONMENT = {
    "TRAINING_ASSETS_TRAINING_WINDOW_DAYS": str(WINDOW_DAYS),
    "TRAINING_ASSETS_PROMOTION": "shadow",
}


def world_stats(rng) -> pd.DataFrame:
    """Hourly stats per driver over every day of the world, each row summing up the hour
    that ends at its `datetime`."""
    hours = pd.date_range(
        pd.Timestamp(FIRST, tz="UTC"),
        pd.Timestamp(SHADOWED[-1] + timedelta(days=1), tz="UTC"),
        freq="h",
    )
    frame = pd.DataFrame(
        {
            "driver_id": np.repeat(DRIVERS, len(hours)),
            "datetime": np.tile(hours, len(DRIVERS)),
        }
    )
    n = len(frame)
    frame["conv_rate"] = rng.uniform(0, 1, n).astype("float32")
    frame["acc_rate"] = rng.uniform(0, 1, n).astype("float32")
    frame["avg_daily_trips"] = rng.integers(1, 40, n).astype("int32")
    frame["created"] = frame["datetime"]
    return frame


def world_orders(rng, stats: pd.DataFrame, days: list[date], turns: bool) -> pd.DataFrame:
    """ORDERS_PER_DAY orders on each of `days`, labelled by the stats row of the hour the
    order falls in: likelier completed with a higher conversion rate, and (a turning world,
    from CHANGE on) likelier completed with a lower one."""
    frames = []
    for day in days:
        seconds = np.sort(rng.choice(86_400, ORDERS_PER_DAY, replace=False))
        times = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(seconds * 1_000_000 + 7, unit="us")
        frames.append(
            pd.DataFrame(
                {"event_timestamp": times, "driver_id": rng.choice(DRIVERS, ORDERS_PER_DAY)}
            )
        )
    orders = pd.concat(frames, ignore_index=True)
    # The stats row as of each order: the one of the hour that closed last before it.
    as_of = orders.assign(datetime=orders["event_timestamp"].dt.floor("h")).merge(
        stats[["driver_id", "datetime", "conv_rate"]], on=["driver_id", "datetime"]
    )
    assert len(as_of) == len(orders)
    sign = np.where(turns & (as_of["event_timestamp"].dt.date >= CHANGE), -1.0, 1.0)
    chance = 1 / (1 + np.exp(-8.0 * sign * (as_of["conv_rate"].to_numpy() - 0.5)))
    as_of["trip_completed"] = (rng.uniform(0, 1, len(as_of)) < chance).astype("int64")
    return as_of[["event_timestamp", "driver_id", "trip_completed"]]


def days_from(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def serve(instance, orders: pd.DataFrame, name: str, cursors: dict) -> list:
    """The orders' requests scored by a batch run, then their labels dropped in as an orders
    file and each day they reach judged: the live_model_quality results, by day."""
    requests = paths.default_batch_requests_path()
    requests.mkdir(parents=True, exist_ok=True)
    orders[["event_timestamp", "driver_id"]].to_csv(requests / f"{name}.tsv", sep="\t", index=False)
    request, cursors["batch"] = settled(batch_tick, instance, cursors["batch"])
    assert isinstance(request, RunRequest), request
    scoring = defs.resolve_job_def("batch_predictions_job").execute_in_process(
        instance=instance, tags=request.tags
    )
    assert scoring.success
    orders.to_parquet(paths.default_orders_path() / f"{name}.parquet", index=False)
    result, cursors["outcomes"] = settled(outcomes_tick, instance, cursors["outcomes"])
    days = {day.isoformat() for day in orders["event_timestamp"].dt.date}
    wanted = [r for r in result.run_requests if r.partition_key in days]
    assert sorted(r.partition_key for r in wanted) == sorted(days)
    judged = run_requests(instance, "live_quality_job", wanted)
    return {r.partition_key: run for r, run in zip(wanted, judged, strict=True)}


def champion_version(client) -> int:
    return int(client.get_model_version_by_alias(MODEL_NAME, "champion").version)


@pytest.mark.parametrize("turns", [True, False], ids=["turning", "steady"])
def test_the_loop_retrains_shadows_and_promotes_only_when_the_world_turns(
    working_area, instance, mlflow_client, turns, monkeypatch
):
    for variable, value in ENVIRONMENT.items():
        monkeypatch.setenv(variable, value)
    # The code location as a deployment with that environment loads it.
    deployed = build_definitions()
    training = deployed.resolve_job_def("training_job")
    rng = np.random.default_rng(2026)
    stats = world_stats(rng)
    stats.to_parquet(paths.default_driver_stats_path(), index=False)
    for sample in paths.default_orders_path().glob("*.parquet"):
        sample.unlink()
    history = world_orders(rng, stats, days_from(FIRST, TRAINED_UNTIL), turns)
    history.to_parquet(paths.default_orders_path() / "history.parquet", index=False)

    first = training.execute_in_process(instance=instance, raise_on_error=False)
    assert first.success
    # With no champion to be scored beside, the first gated version serves at once.
    assert champion_version(mlflow_client) == 1
    moved = mlflow_client.get_model_version(MODEL_NAME, "1").tags
    assert "no champion to judge it in shadow" in moved["training_assets.champion.reason"]
    [table] = first.asset_materializations_for_node("training_data")
    newest = history["event_timestamp"].max()
    in_window = history["event_timestamp"] > newest - pd.Timedelta(days=WINDOW_DAYS)
    assert table.metadata["dagster/row_count"].value == int(in_window.sum())
    assert table.metadata["training_window_days"].value == WINDOW_DAYS

    # The days after training: scored by the champion, then labelled.
    cursors = {"batch": None, "outcomes": None}
    scored = world_orders(rng, stats, SCORED, turns)
    judged = serve(instance, scored, "scored", cursors)
    verdicts = {
        day: check_results(run)["champion_live_rmse_within_tolerance"].passed
        for day, run in judged.items()
    }
    retrain, retrain_cursor = retrain_tick(instance, None)
    if not turns:
        assert all(verdicts.values()), verdicts
        assert not retrain.run_requests
        assert "no judged day failed" in retrain.skip_reason.skip_message
        assert "no challenger awaits promotion" in shadow_tick(instance).skip_message
        assert champion_version(mlflow_client) == 1
        return

    # The turn is seen on its own day, and not before it.
    assert verdicts == {day.isoformat(): day < CHANGE for day in SCORED}, verdicts
    [request] = retrain.run_requests
    assert request.run_key == f"live-degraded-v1-from-{CHANGE.isoformat()}"
    # The retrain it asks for trains on the newest days, the turned world's, and is registered
    # beside the champion to be judged in shadow.
    # Launched as the sensor asks, with its tags alone: the settings are the deployment's.
    retrained = training.execute_in_process(instance=instance, tags=request.tags)
    assert retrained.success
    [table] = retrained.asset_materializations_for_node("training_data")
    every = pd.concat([history, scored])["event_timestamp"]
    in_window = every[every > every.max() - pd.Timedelta(days=WINDOW_DAYS)]
    assert table.metadata["dagster/row_count"].value == len(in_window)
    # Nearly all of it the turned world's (the window counts back from the newest order's
    # instant, so the minutes of the day before the turn may fall in it).
    assert (in_window.dt.date < CHANGE).mean() < 0.01
    assert int(mlflow_client.get_model_version_by_alias(MODEL_NAME, "challenger").version) == 2
    assert champion_version(mlflow_client) == 1

    # The next days: the champion answers, the retrained model is scored in shadow, and it
    # beats the champion on the same labelled requests.
    shadowed = serve(instance, world_orders(rng, stats, SHADOWED, turns), "shadowed", cursors)
    for day, run in shadowed.items():
        [comparison] = run.output_for_node("live_model_quality").comparisons
        assert (comparison.champion_version, comparison.challenger_version) == (1, 2), day
        assert comparison.gain_low > 0, (day, comparison)
    # The same degradation asks for no second retrain.
    again, _ = retrain_tick(instance, retrain_cursor)
    assert not again.run_requests

    promote = shadow_tick(instance)
    assert isinstance(promote, RunRequest), promote
    assert promote.run_key == "shadow-v2-over-v1"
    moved = defs.resolve_job_def("promote_model_job").execute_in_process(
        instance=instance, run_config=promote.run_config, tags=promote.tags
    )
    assert moved.success
    assert champion_version(mlflow_client) == 2
    assert isinstance(shadow_tick(instance), SkipReason)
    latest = instance.get_latest_materialization_event(AssetKey("live_model_quality"))
    assert latest.dagster_event.partition in {day.isoformat() for day in SHADOWED}
