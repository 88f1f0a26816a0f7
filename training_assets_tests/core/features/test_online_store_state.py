"""What the online store holds, decided from the store itself: on the real feature repo with the
sqlite online store, a store that was never loaded, lost its file, was emptied, or was last
loaded longer ago than the view's TTL is refused for predictions; the next load reloads what
it lost in full; a driver the store does not know gets no prediction unless asked to impute.
Stats files come from Feast's own generator."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from training_assets.core import paths
from training_assets.core.features import feast_repo, load_marker, online
from training_assets.core.ml.elastic_net import fit_elastic_net
from training_assets.core.schema import FEATURE_SERVICE
from training_assets.core.tracking.model_log import log_sklearn_model
from training_assets.defs.resources.mlflow import MlflowStore
from training_assets_tests.core.features.test_materialize import (
    DRIVERS,
    FEATURES,
    applied_store,
    feast_generated,
    joined_after_newest_row,
)

UNKNOWN = 424242


@pytest.fixture
def stats(tmp_path) -> Path:
    return feast_generated(tmp_path / "driver_stats.parquet", "2021-04-01", "2021-04-03", seed=11)


@pytest.fixture
def client(working_area) -> mlflow.MlflowClient:
    return MlflowStore().configure_client()


@pytest.fixture
def model_uri(client, stats) -> str:
    return logged_model(client, stats)


def logged_model(client: mlflow.MlflowClient, stats: Path, label_feature: str = "conv_rate") -> str:
    """A model logged to the working area's MLflow store as the pipeline logs one (median
    imputation, signature), fit on the stats themselves: what it predicts depends on the
    features it is given (and on `label_feature`, whose values above its median are the
    positive label)."""
    frame = pd.read_parquet(stats)
    x = frame[FEATURES].astype({"conv_rate": "float32", "acc_rate": "float32"})
    x = x.astype({"avg_daily_trips": "float64"})
    y = (frame[label_feature] > frame[label_feature].median()).astype(int)
    model = fit_elastic_net(x, y, alpha=0.01, l1_ratio=0.1, random_state=1)
    # Artifacts beside the store's file, as the pipeline keeps them: MLflow's own default for
    # a new experiment is ./mlruns in whatever directory the tests run in.
    experiment = client.get_experiment_by_name("online")
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(
            "online", artifact_location=MlflowStore().resolved_artifact_location()
        )
    )
    run = client.create_run(experiment_id)
    return log_sklearn_model(client, run.info.run_id, model, x.head()).model_uri


def reopened(tmp_path: Path):
    """A new FeatureStore on the same registry and online store, as the next process opens it
    (a FeatureStore keeps its sqlite connection open)."""
    return feast_repo.feature_store(
        paths.feature_repo(),
        registry=tmp_path / "feast" / "registry.db",
        online_store=tmp_path / "feast" / "online.db",
    )


def online_store_file(tmp_path: Path) -> Path:
    return tmp_path / "feast" / "online.db"


def test_a_store_never_loaded_is_refused_before_any_prediction(tmp_path, stats, model_uri, client):
    store = applied_store(tmp_path, stats)

    with pytest.raises(online.OnlineStoreNotReady) as refused:
        online.predict_online(client, store, FEATURE_SERVICE, model_uri, DRIVERS[:2])

    assert "'driver_stats' was never loaded" in str(refused.value)
    assert "materialize online_features" in str(refused.value).lower()


def test_a_loaded_store_serves_and_an_unknown_driver_gets_no_prediction_unless_imputed(
    tmp_path, stats, model_uri, client
):
    store = applied_store(tmp_path, stats)
    feast_repo.materialize_online(store, FEATURE_SERVICE)

    served = online.predict_online(
        client, store, FEATURE_SERVICE, model_uri, [*DRIVERS[:3], UNKNOWN]
    )
    imputed = online.predict_online(
        client, store, FEATURE_SERVICE, model_uri, [*DRIVERS[:3], UNKNOWN], impute=True
    )

    assert served["features_found"].tolist() == [True, True, True, False]
    assert served["prediction"].isna().tolist() == [False, False, False, True]
    assert served[FEATURES].iloc[3].isna().all()
    assert imputed["features_found"].tolist() == [True, True, True, False]
    assert imputed["prediction"].notna().all()
    np.testing.assert_allclose(
        imputed["prediction"].iloc[:3].astype(float), served["prediction"].iloc[:3].astype(float)
    )


@pytest.mark.parametrize("loss", ["file deleted", "rows emptied"])
def test_a_store_that_lost_its_data_is_refused_then_reloaded_in_full(
    tmp_path, stats, model_uri, client, loss
):
    store = applied_store(tmp_path, stats)
    [first] = feast_repo.materialize_online(store, FEATURE_SERVICE)
    before = online.predict_online(client, store, FEATURE_SERVICE, model_uri, DRIVERS)
    del store
    if loss == "file deleted":
        online_store_file(tmp_path).unlink()
    else:
        with sqlite3.connect(online_store_file(tmp_path)) as connection:
            connection.execute("DELETE FROM driver_trips_driver_stats")

    store = reopened(tmp_path)
    with pytest.raises(online.OnlineStoreNotReady, match="lost its data"):
        online.predict_online(client, store, FEATURE_SERVICE, model_uri, DRIVERS)
    # The registry still says the view was loaded up to the newest row.
    assert store.get_feature_view("driver_stats").most_recent_end_time is not None
    [reload] = feast_repo.materialize_online(store, FEATURE_SERVICE)
    after = online.predict_online(client, store, FEATURE_SERVICE, model_uri, DRIVERS)

    assert first["how"] == "initial"
    assert reload["how"] == "reload: store lost its data"
    assert (reload["start"], reload["end"]) == (first["start"], first["end"])
    pd.testing.assert_frame_equal(after, before)
    assert after["features_found"].all()
    served = after.set_index("driver_id")[FEATURES]
    pd.testing.assert_frame_equal(
        served, joined_after_newest_row(store, stats).loc[DRIVERS], check_dtype=False
    )
    [again] = feast_repo.materialize_online(store, FEATURE_SERVICE)
    assert again["how"] == "up to date"


def test_a_load_older_than_the_views_ttl_is_refused_and_a_new_load_renews_it(
    tmp_path, stats, model_uri, client
):
    store = applied_store(tmp_path, stats)
    feast_repo.materialize_online(store, FEATURE_SERVICE)
    view = store.get_feature_view("driver_stats")
    marker = load_marker.read_marker(store, view)
    assert view.ttl == timedelta(days=1)

    assert online.serving_problems(store, FEATURE_SERVICE, now=marker.loaded_at + view.ttl) == []
    later = marker.loaded_at + view.ttl + timedelta(minutes=1)
    [stale] = online.serving_problems(store, FEATURE_SERVICE, now=later)
    assert "longer than its TTL of 1 day, 0:00:00" in stale
    with pytest.raises(online.OnlineStoreNotReady, match="longer than its TTL"):
        online.require_servable(store, FEATURE_SERVICE, now=later)

    # A load that finds nothing new still confirms what the store holds, as of now.
    [renewed] = feast_repo.materialize_online(store, FEATURE_SERVICE)
    assert renewed["how"] == "up to date"
    assert load_marker.read_marker(store, view).loaded_at > marker.loaded_at
    assert load_marker.read_marker(store, view).data_end == marker.data_end


def test_a_stale_store_is_refused_by_its_recorded_time(tmp_path, stats, model_uri, client):
    """The marker as a load two days ago left it, through the online store's own write."""
    store = applied_store(tmp_path, stats)
    feast_repo.materialize_online(store, FEATURE_SERVICE)
    view = store.get_feature_view("driver_stats")
    data_end = load_marker.read_marker(store, view).data_end
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    load_marker._write(store, view, load_marker.LoadMarker(view.name, two_days_ago, data_end))

    with pytest.raises(online.OnlineStoreNotReady, match="longer than its TTL"):
        online.predict_online(client, store, FEATURE_SERVICE, model_uri, DRIVERS)


def test_a_withdrawn_view_is_refused_and_reloaded_in_full_over_a_tampered_value(
    tmp_path, stats, model_uri, client
):
    store = applied_store(tmp_path, stats)
    [first] = feast_repo.materialize_online(store, FEATURE_SERVICE)
    expected = joined_after_newest_row(store, stats).loc[DRIVERS]
    newest = pd.read_parquet(stats).sort_values("datetime").groupby("driver_id").last()
    driver = DRIVERS[0]
    # A wrong value for one driver, at the same event time as the value it replaces.
    store.write_to_online_store(
        "driver_stats",
        pd.DataFrame(
            {
                "driver_id": [driver],
                "conv_rate": [0.987],
                "acc_rate": [float(newest.loc[driver, "acc_rate"])],
                "avg_daily_trips": [int(newest.loc[driver, "avg_daily_trips"])],
                "datetime": [newest.loc[driver, "datetime"]],
                "created": [newest.loc[driver, "created"]],
            }
        ),
    )
    assert online.skew(store, FEATURE_SERVICE)["differing"]

    withdrawn = online.withdraw_views(store, FEATURE_SERVICE, ["conv_rate"], "store differed")
    with pytest.raises(online.OnlineStoreNotReady, match="withdrawn from serving.*store differed"):
        online.predict_online(client, store, FEATURE_SERVICE, model_uri, DRIVERS)
    [reload] = feast_repo.materialize_online(store, FEATURE_SERVICE)

    assert withdrawn == ["driver_stats"]
    assert reload["how"] == "reload: store differed"
    assert reload["start"] == first["start"]
    assert online.skew(store, FEATURE_SERVICE)["differing"] == []
    pd.testing.assert_frame_equal(
        online.online_frame(store, FEATURE_SERVICE, DRIVERS), expected, check_dtype=False
    )
    assert online.predict_online(client, store, FEATURE_SERVICE, model_uri, DRIVERS)[
        "features_found"
    ].all()


def test_the_marker_is_not_a_driver(tmp_path, stats):
    """The marker's key is of its own join key: no driver id reads it, and the view's rows are
    the drivers' only."""
    store = applied_store(tmp_path, stats)
    feast_repo.materialize_online(store, FEATURE_SERVICE)

    frame = online.online_frame(store, FEATURE_SERVICE, [0, -1, 2**63 - 1, -(2**63)])

    assert frame.isna().all().all()
    with sqlite3.connect(online_store_file(tmp_path)) as connection:
        keys = connection.execute(
            "SELECT COUNT(DISTINCT entity_key) FROM driver_trips_driver_stats"
        ).fetchone()[0]
    assert keys == len(DRIVERS) + 1


def test_the_online_model_scores_through_onnx_and_agrees_with_pyfunc(model_uri, client):
    from training_assets.core.ml.compiled import TOLERANCE

    compiled = online.OnlineModel(client, model_uri)
    assert compiled.scorer == "onnxruntime"
    plain = online.OnlineModel(client, model_uri, compile=False)
    assert plain.scorer == "pyfunc: not compiled"
    # Rows as the store returns them: nulls in every column, integers as integers.
    rows = online.OnlineRows(
        [1, 2, 3, 4],
        [True, True, True, True],
        {
            "conv_rate": [0.25, None, 0.9, 0.5],
            "acc_rate": [0.5, 0.75, None, 0.5],
            "avg_daily_trips": [12, 3, 40, None],
        },
    )
    found, expected = (
        compiled.predict_rows(rows, [0, 1, 2, 3]),
        plain.predict_rows(rows, [0, 1, 2, 3]),
    )
    assert np.max(np.abs(found - expected)) <= TOLERANCE
    # A value float32 cannot carry exactly: that request is scored through pyfunc, exactly.
    huge = online.OnlineRows(
        [5], [True], {**{k: [v[0]] for k, v in rows.values.items()}, "avg_daily_trips": [2**24 + 1]}
    )
    assert compiled.predict_rows(huge, [0]).tolist() == plain.predict_rows(huge, [0]).tolist()
