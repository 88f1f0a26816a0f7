"""Online serving on the real Feast repo, MLflow store and instance: `training-assets-predict`
(a real process, then called in this one) refuses a store that was never loaded; after
online_features loads it, its skew check passes and the command scores drivers with the
champion as the offline features would; a tampered online store fails the check with the
driver named, is refused until the next load, and that load reloads it in full."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckKey, AssetKey

from training_assets.cli import predict
from training_assets.core import paths
from training_assets.core.monitoring.sinks import prediction_sink
from training_assets.definitions import defs
from training_assets.defs.resources.feast import FeastResource
from training_assets_tests.conftest import mlflow_pointed_at
from training_assets_tests.e2e.test_online_features import materialize_online
from training_assets_tests.e2e.test_pipeline import MODEL_NAME, run_training

CHECK = AssetCheckKey(AssetKey("online_features"), "online_matches_offline")
FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]


def skew_check(result):
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == CHECK.name]
    return evaluation


def run_predict(area: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    environment[paths.WORKING_AREA_ENV] = str(area)
    return subprocess.run(
        [str(Path(sys.executable).parent / "training-assets-predict"), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def predict_cli(area: Path, *drivers: int) -> list[dict]:
    output = run_predict(area, *map(str, drivers))
    assert output.returncode == 0, output.stderr
    return [json.loads(line) for line in output.stdout.splitlines()]


def predict_here(capsys, *args: str) -> tuple[int, list[dict], str]:
    """The command's exit code, answers and errors, run in this process: the command in a
    process of its own is tested above, and each start of one pays the imports again."""
    capsys.readouterr()
    code = predict(list(args))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_online_serving_matches_offline_and_the_check_catches_a_tampered_store(
    working_area, instance, mlflow_client, capsys, monkeypatch
):
    assert run_training(instance).success
    stats = pd.read_parquet(paths.default_driver_stats_path())
    drivers = sorted(stats["driver_id"].unique())[:3]
    # The registry knows the views (feature_store ran), but nothing was loaded online.
    never = run_predict(working_area, str(drivers[0]))
    assert never.returncode == 2
    assert never.stdout == ""
    assert "'driver_stats' was never loaded" in never.stderr
    assert "Materialize online_features" in never.stderr

    loaded = materialize_online(instance)
    assert loaded.success
    check = skew_check(loaded)
    assert check.passed, check.metadata
    assert check.metadata["compared_drivers"].value > 0

    served = predict_cli(working_area, *drivers, 424242)

    assert [row["driver_id"] for row in served] == [*drivers, 424242]
    assert [row["features_found"] for row in served] == [True, True, True, False]
    # A driver the store does not know gets no prediction, unless imputation is asked for.
    assert served[3]["prediction"] is None
    _, [imputed], _ = predict_here(capsys, "--impute", "424242")
    assert imputed["features_found"] is False
    assert isinstance(imputed["prediction"], float)
    assert {row["model_uri"] for row in served} == {f"models:/{MODEL_NAME}@champion"}
    assert {(row["model_name"], row["model_version"]) for row in served} == {(MODEL_NAME, 1)}
    # Every answer is in the prediction log under its id, as the version that gave it.
    today = datetime.now(UTC).date()
    logged = prediction_sink().read(today).to_pandas().set_index("prediction_id")
    answered = [*served, imputed]
    assert sorted(logged.index) == sorted(row["prediction_id"] for row in answered)
    for row in served:
        entry = logged.loc[row["prediction_id"]]
        assert (entry["driver_id"], entry["model_version"]) == (row["driver_id"], 1)
        assert (entry["role"], entry["source"]) == ("champion", "online")
        assert bool(entry["features_found"]) == row["features_found"]
        assert (entry["prediction"] is None or np.isnan(entry["prediction"])) == (
            row["prediction"] is None
        )
    # A version named by hand is scored, not logged as the champion's answer.
    code, [named], _ = predict_here(capsys, "--model-uri", f"models:/{MODEL_NAME}/1", "1001")
    assert code == 0 and "prediction_id" not in named
    assert prediction_sink().read(today).num_rows == len(answered)
    # A log that cannot be written costs the log, never the answers.
    monkeypatch.setenv("TRAINING_ASSETS_PREDICTION_LOG_URL", "s3://nowhere/log")
    code, [still], errors = predict_here(capsys, str(drivers[0]))
    assert code == 0 and still["driver_id"] == drivers[0]
    assert "prediction log: 1 answer(s) not written: PredictionSinkError" in errors
    monkeypatch.delenv("TRAINING_ASSETS_PREDICTION_LOG_URL")
    # The same drivers scored by hand: the newest stats row of each, and the champion.
    import mlflow.pyfunc

    newest = stats.sort_values(["datetime", "created"]).groupby("driver_id").last()
    by_hand = newest.loc[drivers, FEATURES].astype(
        {"conv_rate": "float32", "acc_rate": "float32", "avg_daily_trips": "float64"}
    )
    with mlflow_pointed_at(mlflow_client.tracking_uri):
        model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    np.testing.assert_allclose(
        [row["prediction"] for row in served[:3]], model.predict(by_hand), rtol=1e-5
    )

    # Someone writes a wrong value into the online store for one driver.
    store = FeastResource().store()
    tampered = int(drivers[1])
    store.write_to_online_store(
        "driver_stats",
        pd.DataFrame(
            {
                "driver_id": [tampered],
                "conv_rate": [0.987],
                "acc_rate": [float(newest.loc[tampered, "acc_rate"])],
                "avg_daily_trips": [int(newest.loc[tampered, "avg_daily_trips"])],
                "datetime": [newest.loc[tampered, "datetime"] + pd.Timedelta(minutes=1)],
                "created": [newest.loc[tampered, "created"] + pd.Timedelta(minutes=1)],
            }
        ),
    )
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={AssetKey("online_features")}
    )
    again = job.execute_in_process(instance=instance, raise_on_error=False)

    failed = skew_check(again)
    assert not failed.passed
    assert not again.success  # the check blocks
    assert failed.metadata["differing_drivers"].value == [tampered]
    [difference] = failed.metadata["differences"].value
    assert difference["feature"] == "conv_rate"
    assert difference["online"] == pytest.approx(0.987)  # stored as float32
    assert failed.metadata["withdrawn_views"].value == ["driver_stats"]

    # Nothing is served from the store the check found wrong, until the next load.
    code, answers, errors = predict_here(capsys, str(tampered))
    assert (code, answers) == (2, [])
    assert "withdrawn from serving" in errors
    assert "store differed from the offline features" in errors
    repaired = job.execute_in_process(instance=instance)
    [materialization] = repaired.asset_materializations_for_node("online_features")
    views = materialization.metadata["views"].value
    assert [view["how"] for view in views] == ["reload: store differed from the offline features"]
    assert skew_check(repaired).passed
    code, [row], _ = predict_here(capsys, str(tampered))
    assert code == 0
    assert row["conv_rate"] == pytest.approx(float(newest.loc[tampered, "conv_rate"]), rel=1e-6)
