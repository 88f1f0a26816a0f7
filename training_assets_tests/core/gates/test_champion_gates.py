"""Unit tests for the challenger gates in training_assets.core.gates.champion_gates."""

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor

from training_assets.core.gates.champion_gates import (
    NO_CHAMPION,
    judge,
    latency_within_budget,
    no_regression,
    signatures_match,
    worst_slice_within_limits,
)
from training_assets.core.gates.limits import GateLimits
from training_assets.core.ml.elastic_net import fit_elastic_net
from training_assets.core.ml.metrics import slice_rmse
from training_assets.core.tracking.model_files import model_location
from training_assets.core.tracking.model_log import log_sklearn_model
from training_assets.defs.resources.mlflow import MlflowStore
from training_assets_tests.repo_schema import repo_schema

FEATURES = repo_schema().feature_names

# --- the gate functions, on constructed values ---------------------------------------------


def test_regression_within_tolerance_passes_and_beyond_fails():
    assert no_regression(0.462, 0.460, tolerance=0.005).passed

    outcome = no_regression(0.480, 0.460, tolerance=0.005)

    assert not outcome.passed
    assert outcome.evidence["excess"] == pytest.approx(0.02)


def test_one_bad_slice_fails_and_a_tiny_one_is_not_judged():
    slice_values = pd.Series(["a"] * 20 + ["b"] * 20 + ["tiny"] * 3)
    truth = pd.Series([1.0] * 43)
    predicted = np.array([0.9] * 20 + [0.2] * 20 + [0.0] * 3)
    rates = slice_rmse(slice_values, truth, predicted)

    outcome = worst_slice_within_limits(rates, min_rows=10, ceiling=0.6, tolerance=0.05)
    assert not outcome.passed
    assert outcome.evidence["failing_slices"] == ["b"]  # "tiny" is too small to judge
    assert worst_slice_within_limits(rates, min_rows=10, ceiling=0.9, tolerance=0.05).passed


def test_slice_worse_than_the_champion_beyond_tolerance_fails():
    rates = pd.DataFrame(
        {"slice": ["a", "b"], "rows": [50, 50], "rmse": [0.40, 0.45], "champion_rmse": [0.41, 0.35]}
    )

    outcome = worst_slice_within_limits(rates, min_rows=10, ceiling=0.6, tolerance=0.05)

    assert not outcome.passed
    assert outcome.evidence["failing_slices"] == ["b"]


def test_signature_changes_are_reported():
    inputs = {"conv_rate": "float", "acc_rate": "float", "avg_daily_trips": "double"}
    assert signatures_match(inputs, dict(inputs)).passed
    assert signatures_match(inputs, None).passed

    changed = {"conv_rate": "double", "acc_rate": "float", "city": "string"}
    outcome = signatures_match(changed, inputs)

    assert not outcome.passed
    assert outcome.evidence["added"] == ["city"]
    assert outcome.evidence["removed"] == ["avg_daily_trips"]
    assert outcome.evidence["retyped"] == {
        "conv_rate": {"champion": "float", "challenger": "double"}
    }


def test_latency_budget():
    assert latency_within_budget(12.0, 50.0, 1000).passed
    outcome = latency_within_budget(80.0, 50.0, 1000)
    assert not outcome.passed
    assert outcome.evidence == {"p95_ms": 80.0, "budget_ms": 50.0, "batch_rows": 1000}


# --- judge, on models logged to a real MLflow store ----------------------------------------
# One model that serves and one that cannot, a changed signature, a worse challenger, and
# one bad slice.


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
    """A client on the working area's MLflow store, and a function that logs a model to a run
    of its own there, as the pipeline logs one, and returns its URI."""
    mlflow_store = MlflowStore()
    client = mlflow_store.configure_client()
    experiment = client.create_experiment(
        "gates", artifact_location=mlflow_store.resolved_artifact_location()
    )

    def log(model, x: pd.DataFrame) -> str:
        run = client.create_run(experiment)
        return log_sklearn_model(client, run.info.run_id, model, x.head()).model_uri

    return client, log


def test_a_good_first_model_passes_every_gate(store, data):
    train_x, train_y, test_x, test_y, groups = data
    client, log = store
    uri = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)

    outcomes, table = judge(client, uri, None, test_x, test_y, groups, LIMITS)

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
    client, _ = store

    outcomes, _ = judge(client, "models:/m-0123456789abcdef", None, test_x, test_y, groups, LIMITS)

    assert not outcomes["model_loads_and_predicts"].passed
    assert "error" in outcomes["model_loads_and_predicts"].evidence
    assert not outcomes["latency_within_budget"].passed


def test_rows_the_signature_rejects_fail_to_serve(store, data):
    train_x, train_y, test_x, test_y, groups = data
    client, log = store
    uri = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)

    broken = test_x.rename(columns={"conv_rate": "conversion"})
    outcomes, _ = judge(client, uri, None, broken, test_y, groups, LIMITS)

    assert not outcomes["model_loads_and_predicts"].passed
    assert "conv_rate" in outcomes["model_loads_and_predicts"].evidence["error"]


def test_a_worse_challenger_fails_against_the_champion(store, data):
    train_x, train_y, test_x, test_y, groups = data
    client, log = store
    champion = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)
    worse = log(fit_elastic_net(train_x, train_y, 5.0, 0.5, 0), train_x)

    predictions = {}
    outcomes, _ = judge(client, worse, champion, test_x, test_y, groups, LIMITS, predictions)

    regression = outcomes["no_regression_against_champion"]
    assert not regression.passed
    assert regression.evidence["challenger_rmse"] > regression.evidence["champion_rmse"] + 0.005
    # The predictions behind the verdict, for the report to score instead of predicting again.
    for name, uri in (("challenger", worse), ("champion", champion)):
        expected = mlflow.pyfunc.load_model(model_location(client, uri)).predict(test_x)
        np.testing.assert_array_equal(predictions[name], expected)
    rmse = np.sqrt(np.mean((test_y.to_numpy() - predictions["champion"]) ** 2))
    assert regression.evidence["champion_rmse"] == pytest.approx(rmse)


def test_a_changed_signature_is_blocked(store, data):
    train_x, train_y, test_x, test_y, groups = data
    client, log = store
    champion = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)
    two_features = train_x[["conv_rate", "acc_rate"]]
    narrower = log(fit_elastic_net(two_features, train_y, 0.01, 0.5, 0), two_features)

    outcomes, _ = judge(
        client, narrower, champion, test_x[["conv_rate", "acc_rate"]], test_y, groups, LIMITS
    )

    assert not outcomes["signature_matches_champion"].passed
    assert outcomes["signature_matches_champion"].evidence["removed"] == ["avg_daily_trips"]
    # The champion cannot score rows without its third input, so there is no fair comparison.
    assert not outcomes["no_regression_against_champion"].passed


def test_one_bad_slice_is_caught(store, data):
    train_x, train_y, test_x, test_y, groups = data
    client, log = store
    uri = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)
    # Labels of one region inverted: the model is fine overall but wrong for "east".
    flipped = test_y.where(groups != "east", 1 - test_y)

    outcomes, table = judge(client, uri, None, test_x, flipped, groups, LIMITS)

    assert not outcomes["worst_slice_within_limits"].passed
    assert outcomes["worst_slice_within_limits"].evidence["failing_slices"] == ["east"]
    assert table.iloc[0]["slice"] == "east"


def test_a_constant_model_has_the_right_signature_but_loses(store, data):
    train_x, train_y, test_x, test_y, groups = data
    client, log = store
    champion = log(fit_elastic_net(train_x, train_y, 0.01, 0.5, 0), train_x)
    constant = log(DummyRegressor().fit(train_x[list(FEATURES)], train_y), train_x)

    outcomes, _ = judge(client, constant, champion, test_x, test_y, groups, LIMITS)

    assert outcomes["signature_matches_champion"].passed
    assert not outcomes["no_regression_against_champion"].passed


def test_every_failing_slice_is_listed_with_its_figures_and_small_ones_are_not():
    rates = pd.DataFrame(
        {
            "slice": [f"d{i}" for i in range(25)] + ["tiny"],
            "rows": [50] * 25 + [3],
            "rmse": [0.7 + i / 100 for i in range(25)] + [0.99],
        }
    )

    outcome = worst_slice_within_limits(rates, min_rows=10, ceiling=0.6, tolerance=0.05)

    assert not outcome.passed
    assert len(outcome.evidence["failing_slices"]) == 25
    assert "tiny" not in outcome.evidence["failing_slices"]
    assert outcome.evidence["slices_too_small"] == 1
    worst = outcome.evidence["failing_slice_figures"][0]
    assert worst == {"slice": "d24", "rows": 50, "rmse": pytest.approx(0.94)}
    assert "25 slice(s) fail: d24" in outcome.description
