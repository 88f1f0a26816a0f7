"""The data and model gates added for champion comparison, each with a passing and a failing
case on constructed data."""

import numpy as np
import pandas as pd
import pytest

from training_assets.core.gates.champion_gates import (
    latency_within_budget,
    no_regression,
    signatures_match,
    worst_slice_within_limits,
)
from training_assets.core.gates.data_gates import (
    duplicate_rows_within_rate,
    feature_values_in_range,
    features_not_from_the_future,
)
from training_assets.core.gates.drift_gate import drift_against_reference
from training_assets.core.ml.metrics import slice_rmse
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURE_TIMESTAMP,
    LABEL,
)


def table(n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    events = pd.date_range("2025-12-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            ENTITY_KEY: np.arange(n, dtype=np.int64) % 4 + 1001,
            EVENT_TIMESTAMP: events,
            LABEL: rng.integers(0, 2, n),
            "conv_rate": rng.uniform(0, 1, n).astype(np.float32),
            "acc_rate": rng.uniform(0, 1, n).astype(np.float32),
            "avg_daily_trips": rng.integers(0, 40, n).astype(float),
            FEATURE_TIMESTAMP: events - pd.Timedelta(minutes=20),
        }
    )


def test_values_in_range_pass_on_valid_rates_and_trips():
    outcome = feature_values_in_range(table())

    assert outcome.passed
    assert outcome.evidence["expected_ranges"]["conv_rate"] == "[0.0, 1.0]"


def test_values_out_of_range_are_named_with_examples():
    frame = table()
    frame.loc[3, "acc_rate"] = 1.7
    frame.loc[5, "avg_daily_trips"] = -2.0

    outcome = feature_values_in_range(frame)

    assert not outcome.passed
    assert outcome.evidence["out_of_range"] == {
        "acc_rate": {"rows": 1, "examples": [pytest.approx(1.7)]},
        "avg_daily_trips": {"rows": 1, "examples": [-2.0]},
    }
    assert outcome.evidence["found_min_max"]["acc_rate"][1] == pytest.approx(1.7)


def test_duplicates_within_rate_pass_and_above_it_fail():
    frame = table(100)
    assert duplicate_rows_within_rate(frame, 0.01).passed

    doubled = pd.concat([frame, frame.iloc[:5]], ignore_index=True)
    outcome = duplicate_rows_within_rate(doubled, 0.01)

    assert not outcome.passed
    assert outcome.evidence["duplicate_rows"] == 5
    assert outcome.evidence["duplicate_rate"] == pytest.approx(5 / 105)


def test_duplicates_count_missing_labels_as_equal():
    frame = table(100)
    frame[LABEL] = frame[LABEL].astype("float64")
    frame.loc[:1, LABEL] = np.nan
    frame.loc[1, [ENTITY_KEY, EVENT_TIMESTAMP]] = frame.loc[0, [ENTITY_KEY, EVENT_TIMESTAMP]]

    outcome = duplicate_rows_within_rate(frame, 0.0)

    assert outcome.evidence["duplicate_rows"] == 1
    assert not outcome.passed


def test_leaky_join_with_a_feature_row_after_the_event_fails():
    frame = table()
    assert features_not_from_the_future(frame).passed

    frame.loc[7, FEATURE_TIMESTAMP] = frame.loc[7, EVENT_TIMESTAMP] + pd.Timedelta(hours=2)
    outcome = features_not_from_the_future(frame)

    assert not outcome.passed
    assert outcome.evidence["rows_from_the_future"] == 1
    assert outcome.evidence["examples"][0]["event"] == str(frame.loc[7, EVENT_TIMESTAMP])


def test_drift_levels_ok_warn_and_block():
    limits = dict(warn_psi=0.1, block_psi=0.25, warn_label_shift=0.05, block_label_shift=0.15)

    ok, ok_level = drift_against_reference({"conv_rate": 0.02}, 0.01, **limits)
    warned, warn_level = drift_against_reference({"conv_rate": 0.15}, 0.01, **limits)
    blocked, block_level = drift_against_reference({"conv_rate": 0.05}, -0.2, **limits)

    assert (ok.passed, ok_level) == (True, "ok")
    assert (warned.passed, warn_level) == (False, "warn")
    assert (blocked.passed, block_level) == (False, "block")
    assert blocked.evidence["label_rate_shift"] == -0.2


def test_regression_within_tolerance_passes_and_beyond_fails():
    assert no_regression(0.462, 0.460, tolerance=0.005).passed

    outcome = no_regression(0.480, 0.460, tolerance=0.005)

    assert not outcome.passed
    assert outcome.evidence["excess"] == pytest.approx(0.02)


def test_slice_rmse_and_one_bad_slice():
    slice_values = pd.Series(["a"] * 20 + ["b"] * 20 + ["tiny"] * 3)
    truth = pd.Series([1.0] * 43)
    predicted = np.array([0.9] * 20 + [0.2] * 20 + [0.0] * 3)

    rates = slice_rmse(slice_values, truth, predicted)

    assert list(rates["slice"]) == ["tiny", "b", "a"]
    assert rates.set_index("slice")["rmse"].to_dict() == pytest.approx(
        {"a": 0.1, "b": 0.8, "tiny": 1.0}
    )
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
