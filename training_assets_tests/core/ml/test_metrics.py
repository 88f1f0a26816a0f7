"""Unit tests for the test-set scores in training_assets.core.ml.metrics."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline

from training_assets.core.ml.metrics import (
    probabilities,
    probability_metrics,
    regression_metrics,
    slice_rmse,
)
from training_assets.core.schema import LABEL

# --- regression_metrics --------------------------------------------------------------------


def identity_on_conv_rate() -> Pipeline:
    """A real fitted pipeline whose prediction is exactly `conv_rate`."""
    rng = np.random.default_rng(3)
    x = pd.DataFrame(
        {
            "conv_rate": rng.uniform(0, 5, 20),
            "acc_rate": rng.uniform(0, 1, 20),
            "avg_daily_trips": rng.uniform(0, 40, 20),
        }
    )
    return Pipeline([("regress", LinearRegression())]).fit(x, x["conv_rate"])


def test_regression_metrics_known_values():
    model = identity_on_conv_rate()
    test_x = pd.DataFrame(
        {
            "conv_rate": [1.0, 2.0, 3.0, 4.0],
            "acc_rate": [0.1, 0.9, 0.5, 0.2],
            "avg_daily_trips": [3.0, 30.0, 12.0, 7.0],
        }
    )
    test_y = pd.Series([1.0, 3.0, 3.0, 6.0], name=LABEL)
    train_y = pd.Series([2.0, 4.0], name=LABEL)
    np.testing.assert_allclose(model.predict(test_x), [1, 2, 3, 4], atol=1e-9)

    metrics = regression_metrics(model, test_x, test_y, train_y.mean())

    # errors: 0, 1, 0, 2 -> MSE (0 + 1 + 0 + 4) / 4 = 1.25, MAE 3 / 4
    assert metrics["rmse"] == pytest.approx(math.sqrt(1.25))
    assert metrics["mae"] == pytest.approx(0.75)
    # mean(test_y) = 3.25; SS_tot = 2.25² + 0.25² + 0.25² + 2.75² = 12.75; SS_res = 5
    assert metrics["r2"] == pytest.approx(1 - 5 / 12.75)
    # train mean 3: errors 2, 0, 0, 3 -> MSE 13 / 4
    assert metrics["baseline_rmse"] == pytest.approx(math.sqrt(3.25))
    assert metrics["test_rows"] == 4
    assert set(metrics) == {"rmse", "mae", "r2", "baseline_rmse", "test_rows"}


def test_baseline_rmse_predicts_the_train_mean_not_the_test_mean():
    model = identity_on_conv_rate()
    test_x = pd.DataFrame(
        {
            "conv_rate": [0.0, 0.0, 0.0],
            "acc_rate": [0.0, 0.0, 0.0],
            "avg_daily_trips": [0.0, 0.0, 0.0],
        }
    )
    test_y = pd.Series([0.0, 1.0, 2.0])
    train_y = pd.Series([10.0, 10.0, 13.0, 7.0])  # mean 10

    metrics = regression_metrics(model, test_x, test_y, train_y.mean())

    expected = math.sqrt(((10 - 0) ** 2 + (10 - 1) ** 2 + (10 - 2) ** 2) / 3)
    assert metrics["baseline_rmse"] == pytest.approx(expected)
    # Predicting the test mean (1) would give sqrt(2/3); the gate must not get that.
    assert metrics["baseline_rmse"] != pytest.approx(math.sqrt(2 / 3))


# --- probability_metrics -------------------------------------------------------------------


def test_probability_metrics_known_values():
    truth = pd.Series([0, 0, 1, 1])
    predicted = np.array([0.1, 0.4, 0.35, 0.8])

    metrics = probability_metrics(truth, predicted)

    # Of the four (positive, negative) pairs, 0.35 < 0.4 is the one ranked wrong.
    assert metrics["auc"] == pytest.approx(0.75)
    assert metrics["brier"] == pytest.approx((0.1**2 + 0.4**2 + 0.65**2 + 0.2**2) / 4)
    expected = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert metrics["log_loss"] == pytest.approx(expected)


def test_regression_outputs_outside_zero_one_are_clipped_before_scoring():
    metrics = probability_metrics(pd.Series([0, 1]), np.array([-0.3, 1.4]))

    assert metrics["auc"] == 1.0
    assert metrics["brier"] == pytest.approx(0.0, abs=1e-9)
    assert math.isfinite(metrics["log_loss"]) and metrics["log_loss"] < 1e-5


@pytest.mark.parametrize("labels", [[0.0, 0.5, 1.0], [1, 1, 1], []])
def test_no_probability_metrics_without_both_classes_of_a_binary_label(labels):
    assert probability_metrics(pd.Series(labels, dtype=float), np.zeros(len(labels))) == {}


# --- slice_rmse ----------------------------------------------------------------------------


def test_slice_rmse_per_slice_worst_first():
    slice_values = pd.Series(["a"] * 20 + ["b"] * 20 + ["tiny"] * 3)
    truth = pd.Series([1.0] * 43)
    predicted = np.array([0.9] * 20 + [0.2] * 20 + [0.0] * 3)

    rates = slice_rmse(slice_values, truth, predicted)

    assert list(rates["slice"]) == ["tiny", "b", "a"]
    assert rates.set_index("slice")["rmse"].to_dict() == pytest.approx(
        {"a": 0.1, "b": 0.8, "tiny": 1.0}
    )


def test_probability_metrics_equal_sklearns_on_many_tied_scores():
    rng = np.random.default_rng(4)
    truth = pd.Series(rng.integers(0, 2, 5000))
    # Rounded, so that many scores tie across the classes; some fall outside [0, 1].
    predicted = np.round(truth * 0.3 + rng.normal(0.35, 0.25, 5000), 2)

    metrics = probability_metrics(truth, predicted)

    clipped = probabilities(predicted)
    assert metrics["auc"] == pytest.approx(roc_auc_score(truth, clipped), rel=1e-12)
    assert metrics["log_loss"] == pytest.approx(log_loss(truth, clipped), rel=1e-9)
    assert metrics["brier"] == pytest.approx(brier_score_loss(truth, clipped), rel=1e-12)
