"""The challenger gates on models logged to a real MLflow store: one that serves and one that
cannot, a changed signature, a worse challenger, and one bad slice."""

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.dummy import DummyRegressor

from training_assets.core.gates.champion_gates import NO_CHAMPION, judge
from training_assets.core.gates.limits import GateLimits
from training_assets.core.ml.elastic_net import SKOPS_TRUSTED_TYPES, fit_elastic_net
from training_assets.core.schema import FEATURES
from training_assets.defs.resources.mlflow import MlflowStore

LIMITS = GateLimits(
    regression_tolerance=0.005,
    slice_min_rows=20,
    slice_rmse_ceiling=0.6,
    slice_tolerance=0.05,
    latency_batch_rows=200,
    latency_repeats=5,
    latency_budget_ms=1000.0,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    n = 1200
    x = pd.DataFrame(
        {
            "conv_rate": rng.uniform(0, 1, n).astype(np.float32),
            "acc_rate": rng.uniform(0, 1, n).astype(np.float32),
            "avg_daily_trips": rng.integers(0, 40, n).astype(float),
        }
    )
    y = pd.Series((x["conv_rate"] + 0.2 * rng.normal(size=n) > 0.5).astype(int))
    groups = pd.Series(rng.choice(["north", "south", "east"], n))
    return x.iloc[:800], y.iloc[:800], x.iloc[800:], y.iloc[800:], groups.iloc[800:]


@pytest.fixture
def store(working_area):
    mlflow_store = MlflowStore()
    mlflow_store.configure_client()
    mlflow.create_experiment("gates", artifact_location=mlflow_store.resolved_artifact_location())
    mlflow.set_experiment("gates")
    yield
    if mlflow.active_run():
        mlflow.end_run()


def log(model, x: pd.DataFrame) -> str:
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x.head(), model.predict(x.head())),
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
            pip_requirements=["scikit-learn"],
        )
    return info.model_uri


def test_a_good_first_model_passes_every_gate(store, data):
    train_x, train_y, test_x, test_y, groups = data
    uri = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)

    outcomes, table = judge(uri, None, test_x, test_y, groups, LIMITS)

    assert {name: o.passed for name, o in outcomes.items()} == dict.fromkeys(outcomes, True)
    assert set(outcomes) == {
        "model_loads_and_predicts",
        "signature_matches_champion",
        "no_regression_against_champion",
        "worst_slice_within_limits",
        "latency_within_budget",
    }
    assert outcomes["no_regression_against_champion"].evidence["note"] == NO_CHAMPION
    assert sorted(table["slice"]) == ["east", "north", "south"]
    assert outcomes["latency_within_budget"].evidence["p95_ms"] > 0


def test_a_model_that_cannot_be_loaded_fails_to_serve(store, data):
    train_x, _, test_x, test_y, groups = data

    outcomes, _ = judge("models:/m-0123456789abcdef", None, test_x, test_y, groups, LIMITS)

    assert not outcomes["model_loads_and_predicts"].passed
    assert "error" in outcomes["model_loads_and_predicts"].evidence
    assert not outcomes["latency_within_budget"].passed


def test_rows_the_signature_rejects_fail_to_serve(store, data):
    train_x, train_y, test_x, test_y, groups = data
    uri = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)

    broken = test_x.rename(columns={"conv_rate": "conversion"})
    outcomes, _ = judge(uri, None, broken, test_y, groups, LIMITS)

    assert not outcomes["model_loads_and_predicts"].passed
    assert "conv_rate" in outcomes["model_loads_and_predicts"].evidence["error"]


def test_a_worse_challenger_fails_against_the_champion(store, data):
    train_x, train_y, test_x, test_y, groups = data
    champion = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)
    worse = log(fit_elastic_net(train_x, train_y, 5.0, 0.5, 0), train_x)

    outcomes, _ = judge(worse, champion, test_x, test_y, groups, LIMITS)

    regression = outcomes["no_regression_against_champion"]
    assert not regression.passed
    assert regression.evidence["challenger_rmse"] > regression.evidence["champion_rmse"] + 0.005


def test_a_changed_signature_is_blocked(store, data):
    train_x, train_y, test_x, test_y, groups = data
    champion = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)
    two_features = train_x[["conv_rate", "acc_rate"]]
    narrower = log(fit_elastic_net(two_features, train_y, 0.01, 0.5, 0), two_features)

    outcomes, _ = judge(
        narrower, champion, test_x[["conv_rate", "acc_rate"]], test_y, groups, LIMITS
    )

    assert not outcomes["signature_matches_champion"].passed
    assert outcomes["signature_matches_champion"].evidence["removed"] == ["avg_daily_trips"]
    # The champion cannot score rows without its third input, so there is no fair comparison.
    assert not outcomes["no_regression_against_champion"].passed


def test_one_bad_slice_is_caught(store, data):
    train_x, train_y, test_x, test_y, groups = data
    uri = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)
    # Labels of one region inverted: the model is fine overall but wrong for "east".
    flipped = test_y.where(groups != "east", 1 - test_y)

    outcomes, table = judge(uri, None, test_x, flipped, groups, LIMITS)

    assert not outcomes["worst_slice_within_limits"].passed
    assert outcomes["worst_slice_within_limits"].evidence["failing_slices"] == ["east"]
    assert table.iloc[0]["slice"] == "east"


def test_a_constant_model_has_the_right_signature_but_loses(store, data):
    train_x, train_y, test_x, test_y, groups = data
    champion = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)
    constant = log(DummyRegressor().fit(train_x[list(FEATURES)], train_y), train_x)

    outcomes, _ = judge(constant, champion, test_x, test_y, groups, LIMITS)

    assert outcomes["signature_matches_champion"].passed
    assert not outcomes["no_regression_against_champion"].passed
