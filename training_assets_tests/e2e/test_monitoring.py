"""Closing the loop on the real Feast repo, MLflow store and instance: batch requests scored by
the champion and, in shadow, by a challenger awaiting manual promotion; their outcomes joined
with the labels as they arrive (late, in a file of their own) through the outcomes sensor; the
live quality of each version and the live gates, passing on a steady day and failing on a day
whose labels turned against the champion."""

from pathlib import Path

import mlflow.artifacts
import numpy as np
import pandas as pd
from dagster import AssetCheckSeverity, AssetKey, RunRequest, build_sensor_context

from training_assets.core import paths
from training_assets.core.gates.catalog import LIVE_GATES
from training_assets.core.monitoring.days import event_days
from training_assets.core.monitoring.sinks import prediction_sink
from training_assets.definitions import defs
from training_assets.defs.automation.sensors import (
    batch_scoring_sensor,
    live_retrain_sensor,
    live_rollback_sensor,
    outcomes_sensor,
    shadow_promotion_sensor,
)
from training_assets.defs.resources.batch_requests import BatchRequests
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.defs.resources.monitoring import MonitoringSettings
from training_assets.defs.resources.orders import OrdersSource
from training_assets.defs.resources.prediction_log import PredictionLogResource
from training_assets_tests.e2e.test_pipeline import run_training

MANUAL = {"resources": {"model_registry": {"config": {"promotion": "manual"}}}}
ALPHA_045 = {"ops": {"trained_model": {"config": {"alpha": 0.45}}}}
# Within the default lookback window of the sample's newest order (2026-01-01).
DAYS = ["2025-12-27", "2025-12-28", "2025-12-29"]


def tick(sensor, instance, cursor, **resources):
    context = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    result = sensor(context)
    # A sensor sets its cursor on the context, or returns it with its result.
    returned = getattr(result, "cursor", None)
    return result, returned if returned is not None else context.cursor


def batch_tick(instance, cursor):
    return tick(
        batch_scoring_sensor,
        instance,
        cursor,
        batch_requests=BatchRequests(),
        mlflow_store=MlflowStore(),
        model_registry=ModelRegistry(),
    )


def outcomes_tick(instance, cursor):
    return tick(
        outcomes_sensor,
        instance,
        cursor,
        orders_source=OrdersSource(),
        prediction_log=PredictionLogResource(),
        monitoring=MonitoringSettings(),
    )


def settled(ticker, instance, cursor):
    """The sensor's answer once the files held still for a tick."""
    result, cursor = ticker(instance, cursor)
    again, cursor = ticker(instance, cursor)
    return again, cursor


def requests_of_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """The sample's orders of DAYS as requests, plus, per day, 300 requests at times no order
    has yet: their labels arrive later."""
    day = event_days(orders["event_timestamp"]).astype(str)
    known = orders[day.isin(DAYS)][["event_timestamp", "driver_id"]]
    rng = np.random.default_rng(5)
    fresh = pd.DataFrame(
        {
            "event_timestamp": pd.Timestamp(DAYS[1], tz="UTC")
            + pd.to_timedelta(rng.integers(0, 86_400, 300) * 1_000_000 + 17, unit="us"),
            "driver_id": rng.choice(orders["driver_id"].unique()[:40], 300),
        }
    )
    return pd.concat([known, fresh], ignore_index=True)


def run_requests(instance, job_name, requests):
    job = defs.resolve_job_def(job_name)
    results = []
    for request in requests:
        results.append(
            job.execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                tags=request.tags,
                raise_on_error=False,
            )
        )
        assert results[-1].success
    return results


def check_results(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_shadow_scores_outcomes_and_live_gates(working_area, instance, mlflow_client):
    assert run_training(instance).success
    # A second model waits as @challenger: the champion stays version 1.
    assert run_training(instance, {**MANUAL, **ALPHA_045}).success
    orders = pd.read_parquet(paths.default_sample_orders_file())
    requests = requests_of_orders(orders)
    folder = paths.default_batch_requests_path()
    folder.mkdir(parents=True)
    requests.to_csv(folder / "requests.tsv", sep="\t", index=False)

    request, _ = settled(batch_tick, instance, None)
    assert isinstance(request, RunRequest)
    assert request.tags["training_assets/challenger_version"] == "2"
    scoring = defs.resolve_job_def("batch_predictions_job").execute_in_process(
        instance=instance, tags=request.tags
    )
    assert scoring.success
    answered = pd.concat(scoring.output_for_node("batch_predictions").values())
    # The answers are the champion's only; the challenger's are in the log, never returned.
    assert set(answered["model_version"]) == {1}
    logged = pd.concat(
        [prediction_sink().read(pd.Timestamp(day).date()).to_pandas() for day in DAYS]
    )
    assert logged.groupby("role")["model_version"].unique().map(list).to_dict() == {
        "champion": [1],
        "challenger": [2],
    }
    assert (logged["role"] == "challenger").sum() == (logged["role"] == "champion").sum()
    assert set(logged.loc[logged["role"] == "champion", "prediction_id"]) == set(
        answered["prediction_id"]
    )
    assert not set(logged.loc[logged["role"] == "challenger", "prediction_id"]) & set(
        answered["prediction_id"]
    )

    # The outcomes sensor asks for the days that were scored.
    result, cursor = outcomes_tick(instance, None)
    assert sorted(r.partition_key for r in result.run_requests) == DAYS
    judged = run_requests(instance, "live_quality_job", result.run_requests)
    by_day = dict(zip(DAYS, judged, strict=True))
    middle = by_day[DAYS[1]]
    [outcome] = middle.asset_materializations_for_node("prediction_outcomes")
    unlabelled = outcome.metadata["unlabelled_rows"].value
    assert unlabelled == 2 * 300  # the fresh requests, by champion and challenger
    quality = middle.output_for_node("live_model_quality")
    champion = quality.champion()
    assert champion.model_version == 1 and champion.offline_rmse is not None
    assert set(champion.served_psi) == {"conv_rate", "acc_rate", "avg_daily_trips"}
    [comparison] = quality.comparisons
    assert (comparison.champion_version, comparison.challenger_version) == (1, 2)
    assert comparison.gain_low <= comparison.rmse_gain <= comparison.gain_high
    [plotted] = middle.asset_materializations_for_node("live_model_quality")
    assert plotted.partition == DAYS[1]
    assert plotted.metadata["champion.rmse"].value == champion.rmse
    assert plotted.metadata["challenger.version"].value == 2
    # A steady day: every live gate passes.
    for day, run in by_day.items():
        checks = check_results(run)
        assert sorted(checks) == sorted(gate.name for gate in LIVE_GATES), day
        assert all(check.passed for check in checks.values()), (day, checks)

    # The orders, seen settled for the first time, reach the same days (under a key of their
    # own); then nothing new is nothing asked.
    first_seen, cursor = outcomes_tick(instance, cursor)
    assert sorted(r.partition_key for r in first_seen.run_requests) == DAYS
    nothing, cursor = outcomes_tick(instance, cursor)
    assert not getattr(nothing, "run_requests", None)

    # Labels arrive late, in a file of their own, that turn against the champion: each is
    # the opposite of what it predicted.
    fresh = answered[answered["event_timestamp"].dt.microsecond == 17]
    late = pd.DataFrame(
        {
            "event_timestamp": fresh["event_timestamp"],
            "driver_id": fresh["driver_id"],
            "trip_completed": (fresh["prediction"] < 0.5).astype("int64"),
        }
    )
    late.to_parquet(paths.default_orders_path() / "late_labels.parquet", index=False)
    result, cursor = settled(outcomes_tick, instance, cursor)
    # Only the day the new file's labels fall on.
    assert [r.partition_key for r in result.run_requests] == [DAYS[1]]
    [rejudged] = run_requests(instance, "live_quality_job", result.run_requests)
    [outcome] = rejudged.asset_materializations_for_node("prediction_outcomes")
    assert outcome.metadata["unlabelled_rows"].value == 0
    checks = check_results(rejudged)
    failed = checks["champion_live_rmse_within_tolerance"]
    assert not failed.passed and failed.severity == AssetCheckSeverity.WARN
    assert "above its offline test RMSE" in failed.metadata["reason"].value
    assert checks["served_features_drift_within_limit"].passed
    # The partition's quality is what the UI plots: a later day's run did not replace it.
    latest = instance.get_latest_materialization_event(AssetKey("live_model_quality"))
    assert latest.dagster_event.partition == DAYS[1]

    # A day's quality made again on its own reads that day's outcomes from the run that made
    # them, not from the run of the latest outcomes (another day's).
    alone = defs.resolve_job_def("live_quality_job").execute_in_process(
        instance=instance,
        partition_key=DAYS[2],
        asset_selection=[AssetKey("live_model_quality")],
    )
    assert alone.success
    remade = alone.output_for_node("live_model_quality")
    assert remade.day == DAYS[2]
    assert remade.models == by_day[DAYS[2]].output_for_node("live_model_quality").models

    # The degradation requests one retrain, with its evidence; the same day judged again
    # asks for nothing more.
    retrain, retrain_cursor = retrain_tick(instance, None)
    [request] = retrain.run_requests
    assert request.run_key == f"live-degraded-v1-from-{DAYS[1]}"
    assert request.tags["training_assets/trigger"] == "live_quality"
    assert request.tags["training_assets/degraded_on"] == DAYS[1]
    judged_day = quality_of(instance, DAYS[1]).asset_materialization.metadata
    assert request.tags["training_assets/live_rmse"] == f"{judged_day['champion.rmse'].value:.4f}"
    assert float(request.tags["training_assets/live_rmse"]) > float(
        request.tags["training_assets/offline_rmse"]
    )
    run_requests(instance, "live_quality_job", [day_request(DAYS[1])])
    again, retrain_cursor = retrain_tick(instance, retrain_cursor)
    assert not again.run_requests
    assert "already requested" in again.skip_reason.skip_message
    # Re-judging a day that passes changes nothing either: the failing day is still the newest
    # degradation, already asked for.
    run_requests(instance, "live_quality_job", [day_request(DAYS[0])])
    quiet, retrain_cursor = retrain_tick(instance, retrain_cursor)
    assert not quiet.run_requests

    # The retrain it asks for runs, and its report shows the champion's days live beside its
    # offline RMSE: the evidence behind the retrain, where the new model is judged.
    retrained = defs.resolve_job_def("training_job").execute_in_process(
        instance=instance, tags=request.tags, raise_on_error=False
    )
    report = retrained.output_for_node("model_report")
    shown = Path(mlflow.artifacts.download_artifacts(artifact_uri=report.report)).read_text()
    assert "The champion (version 1) live, per day of requests" in shown
    for day in DAYS:
        assert f"<td>{day}</td>" in shown
    assert f"{judged_day['champion.rmse'].value:.4f}" in shown


def retrain_tick(instance, cursor):
    return tick(
        live_retrain_sensor,
        instance,
        cursor,
        mlflow_store=MlflowStore(),
        model_registry=ModelRegistry(),
    )


def day_request(day: str) -> RunRequest:
    return RunRequest(partition_key=day)


def quality_of(instance, day: str):
    from dagster import AssetRecordsFilter

    [record] = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("live_model_quality"), asset_partitions=[day]),
        limit=1,
    ).records
    return record


SHADOW = {"resources": {"model_registry": {"config": {"promotion": "shadow"}}}}


def fresh_requests(
    orders: pd.DataFrame, per_day: int = 260, microsecond: int = 17, seed: int = 11
) -> pd.DataFrame:
    """Requests on DAYS at times no order has (a microsecond of 17, or another): labelled
    later."""
    rng = np.random.default_rng(seed)
    frames = []
    for day in DAYS:
        seconds = rng.integers(0, 86_400, per_day) * 1_000_000 + microsecond
        frames.append(
            pd.DataFrame(
                {
                    "event_timestamp": pd.Timestamp(day, tz="UTC")
                    + pd.to_timedelta(seconds, unit="us"),
                    "driver_id": rng.choice(orders["driver_id"].unique()[:40], per_day),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def labels_for_the_challenger(challenger: int, role: str = "challenger") -> pd.DataFrame:
    """A label for each logged request that the challenger's score (or another shadow's) is
    nearer to than the champion's: a world whose outcomes follow the shadow."""
    logged = pd.concat(
        [prediction_sink().read(pd.Timestamp(day).date()).to_pandas() for day in DAYS]
    )
    key = ["driver_id", "event_timestamp"]
    champion = logged[logged["role"] == "champion"].drop_duplicates(key)
    shadow = logged[(logged["role"] == role) & (logged["model_version"] == challenger)]
    pairs = champion.merge(shadow.drop_duplicates(key), on=key, suffixes=("", "_shadow"))
    return pd.DataFrame(
        {
            "event_timestamp": pairs["event_timestamp"],
            "driver_id": pairs["driver_id"],
            "trip_completed": (pairs["prediction_shadow"] > pairs["prediction"]).astype("int64"),
        }
    )


def shadow_tick(instance, sensor=shadow_promotion_sensor, **registry):
    from training_assets.defs.resources.gates import GateThresholds

    result, _ = tick(
        sensor,
        instance,
        None,
        mlflow_store=MlflowStore(),
        model_registry=ModelRegistry(**registry),
        gates=GateThresholds(),
    )
    return result


def score_and_judge(instance, batch_cursor, outcomes_cursor):
    """One settled batch scoring run, then the days it stored judged."""
    request, batch_cursor = settled(batch_tick, instance, batch_cursor)
    assert isinstance(request, RunRequest), request
    scoring = defs.resolve_job_def("batch_predictions_job").execute_in_process(
        instance=instance, tags=request.tags
    )
    assert scoring.success
    result, outcomes_cursor = outcomes_tick(instance, outcomes_cursor)
    wanted = [r for r in result.run_requests if r.partition_key in DAYS]
    assert sorted(r.partition_key for r in wanted) == DAYS
    judged = run_requests(instance, "live_quality_job", wanted)
    return request, judged, batch_cursor, outcomes_cursor


def test_shadow_policy_promotes_a_gated_challenger_and_never_a_forged_one(
    working_area, instance, mlflow_client, monkeypatch
):
    from training_assets_tests.e2e.test_pipeline import MODEL_NAME

    assert run_training(instance).success
    assert run_training(instance, {**SHADOW, **ALPHA_045}).success
    gated = mlflow_client.get_model_version_by_alias(MODEL_NAME, "challenger")
    assert str(gated.version) == "2"
    assert str(mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion").version) == "1"
    # Someone with write access to the registry registers the same model by hand, copies the
    # gated version's tags, and points @challenger at it. (Their MLflow is set up the usual way,
    # by the variable: MLflow's SQL registry looks the source up on the process-wide URI.)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_client.tracking_uri)
    forged = mlflow_client.create_model_version(
        MODEL_NAME, gated.source, gated.run_id, tags=gated.tags
    )
    mlflow_client.set_registered_model_alias(MODEL_NAME, "challenger", forged.version)
    orders = pd.read_parquet(paths.default_sample_orders_file())
    folder = paths.default_batch_requests_path()
    folder.mkdir(parents=True)
    fresh_requests(orders).to_csv(folder / "requests.tsv", sep="\t", index=False)

    request, judged, batch_cursor, outcomes_cursor = score_and_judge(instance, None, None)
    assert request.tags["training_assets/challenger_version"] == str(forged.version)
    labels_for_the_challenger(int(forged.version)).to_parquet(
        paths.default_orders_path() / "late_labels.parquet", index=False
    )
    result, outcomes_cursor = settled(outcomes_tick, instance, outcomes_cursor)
    rejudged = run_requests(instance, "live_quality_job", result.run_requests)
    for run in rejudged:
        [comparison] = run.output_for_node("live_model_quality").comparisons
        assert comparison.challenger_version == int(forged.version)
        assert comparison.gain_low > 0, comparison
    # It beat the champion on every day, and still is not promoted.
    refused = shadow_tick(instance)
    assert "no gated run of this instance registered it" in refused.skip_message

    # The gated version, registered under the shadow policy, is scored on the same requests.
    mlflow_client.set_registered_model_alias(MODEL_NAME, "challenger", gated.version)
    request, judged, batch_cursor, outcomes_cursor = score_and_judge(
        instance, batch_cursor, outcomes_cursor
    )
    assert request.tags["training_assets/challenger_version"] == "2"
    promote = shadow_tick(instance)
    assert isinstance(promote, RunRequest), promote
    assert promote.run_key == "shadow-v2-over-v1"
    config = promote.run_config["ops"]["champion_model"]["config"]
    assert config["version"] == 2 and "beat @champion live in shadow" in config["reason"]
    assert promote.tags["training_assets/shadow_days"] == ",".join(sorted(DAYS, reverse=True))

    moved = defs.resolve_job_def("promote_model_job").execute_in_process(
        instance=instance, run_config=promote.run_config, tags=promote.tags
    )
    assert moved.success
    champion = mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert str(champion.version) == "2"
    assert any("beat @champion live in shadow" in value for value in champion.tags.values())
    assert "no challenger awaits promotion" in shadow_tick(instance).skip_message

    # --- and back again: version 2 does worse live than version 1, which it replaced -----
    # Version 1 is scored in shadow beside its successor on the next requests, whose labels
    # follow version 1.
    fresh_requests(orders, microsecond=23, seed=12).to_csv(
        folder / "requests_2.tsv", sep="\t", index=False
    )
    request, judged, batch_cursor, outcomes_cursor = score_and_judge(
        instance, batch_cursor, outcomes_cursor
    )
    assert request.tags["training_assets/previous_version"] == "1"
    assert request.tags["training_assets/challenger_version"] == "none"
    labels_for_the_challenger(1, role="previous").to_parquet(
        paths.default_orders_path() / "late_labels_2.parquet", index=False
    )
    result, outcomes_cursor = settled(outcomes_tick, instance, outcomes_cursor)
    rejudged = run_requests(instance, "live_quality_job", result.run_requests)
    for run in rejudged:
        check = check_results(run)["champion_not_worse_than_previous_live"]
        assert not check.passed
        assert check.metadata["restores_version"].value == 1
    # By default the failed check and the sensor say what would restore it, and nothing moves.
    told = shadow_tick(instance, live_rollback_sensor)
    assert "rollback_model_job would restore version 1" in told.skip_message
    rollback = shadow_tick(instance, live_rollback_sensor, rollback_on_live_regression=True)
    assert isinstance(rollback, RunRequest), rollback
    assert rollback.run_key.startswith("live-rollback-v2-to-v1-")
    moved = defs.resolve_job_def("rollback_model_job").execute_in_process(
        instance=instance, run_config=rollback.run_config, tags=rollback.tags
    )
    assert moved.success
    champion = mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert str(champion.version) == "1"
    assert "worse live than version 1" in champion.tags["training_assets.champion.reason"]
    # The same request run again, once the champion has moved on, moves nothing: it names the
    # champion it rolls back and the version it restores.
    stale = defs.resolve_job_def("rollback_model_job").execute_in_process(
        instance=instance, run_config=rollback.run_config, raise_on_error=False
    )
    assert not stale.success
    assert "is version 1 now, not version 2" in str(stale.all_events)
    assert str(mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion").version) == "1"
    # Back by a rollback, version 1 is judged against no one: it is not rolled back further.
    again = shadow_tick(instance, live_rollback_sensor, rollback_on_live_regression=True)
    assert "came back by a rollback" in again.skip_message
