"""Unit tests for the metric gates in training_assets.core.gates.model_gates."""

import pytest

from training_assets.core.gates.model_gates import beats_mean_baseline, metric_within_ceiling


@pytest.mark.parametrize("rmse", [0.3, 0.45])
def test_metric_within_ceiling_passes_at_or_below(rmse):
    outcome = metric_within_ceiling({"rmse": rmse, "mae": 9.0}, "rmse", ceiling=0.45)

    assert outcome.passed
    assert outcome.evidence == {"rmse": rmse, "ceiling": 0.45}
    assert outcome.description == ""


def test_metric_within_ceiling_fails_above():
    outcome = metric_within_ceiling({"rmse": 0.3, "mae": 0.5}, "mae", ceiling=0.4)

    assert not outcome.passed
    assert outcome.evidence == {"mae": 0.5, "ceiling": 0.4}
    assert outcome.description == "mae 0.5000 above ceiling 0.4"


def test_metric_within_ceiling_fails_on_nan():
    outcome = metric_within_ceiling({"rmse": float("nan")}, "rmse", ceiling=0.4)

    assert not outcome.passed


def test_beats_mean_baseline_passes_with_enough_improvement():
    outcome = beats_mean_baseline({"rmse": 0.4, "baseline_rmse": 0.5}, min_improvement=0.1)

    assert outcome.passed
    assert outcome.evidence["rmse"] == 0.4
    assert outcome.evidence["baseline_rmse"] == 0.5
    assert outcome.evidence["improvement"] == pytest.approx(0.2)
    assert outcome.evidence["min_improvement"] == 0.1
    assert outcome.description == ""


@pytest.mark.parametrize(
    ("rmse", "improvement"),
    [(0.48, 0.04), (0.5, 0.0), (0.6, -0.2)],
)
def test_beats_mean_baseline_fails_when_not_better_enough(rmse, improvement):
    outcome = beats_mean_baseline({"rmse": rmse, "baseline_rmse": 0.5}, min_improvement=0.05)

    assert not outcome.passed
    assert outcome.evidence["improvement"] == pytest.approx(improvement)
    assert outcome.evidence["min_improvement"] == 0.05
    assert "less than 5.0%" in outcome.description


def test_beats_mean_baseline_with_zero_baseline_counts_as_no_improvement():
    outcome = beats_mean_baseline({"rmse": 0.0, "baseline_rmse": 0.0}, min_improvement=0.01)

    assert not outcome.passed
    assert outcome.evidence["improvement"] == 0.0
