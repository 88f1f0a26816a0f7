"""Unit tests for PSI and reference profiles in training_assets.core.ml.drift, on known shifts."""

import json

import numpy as np
import pandas as pd

from training_assets.core.ml.drift import (
    feature_profile,
    population_stability,
)


def frame(mean: float, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(mean, 1.0, n), "y": rng.uniform(0, 1, n)})


def test_profile_has_deciles_whose_shares_sum_to_one_and_is_json():
    profile = feature_profile(frame(0, 5000, 1), ["x", "y"])

    assert len(profile["x"]["edges"]) == 11
    assert abs(sum(profile["x"]["shares"]) - 1) < 1e-9
    assert all(abs(share - 0.1) < 0.01 for share in profile["x"]["shares"])
    assert json.loads(json.dumps(profile)) == profile


def test_psi_is_small_on_the_same_distribution_and_large_on_a_shift():
    profile = feature_profile(frame(0, 5000, 1), ["x", "y"])

    same = population_stability(profile, frame(0, 2000, 2))
    shifted = population_stability(profile, frame(0.8, 2000, 3))

    assert same["x"] < 0.05 and same["y"] < 0.05
    assert shifted["x"] > 0.4
    assert shifted["y"] < 0.05


def test_values_outside_the_reference_range_count_in_the_end_bins():
    profile = feature_profile(pd.DataFrame({"x": np.linspace(0, 1, 1000)}), ["x"])

    psi = population_stability(profile, pd.DataFrame({"x": np.full(100, 5.0)}))

    assert psi["x"] > 5


def test_nulls_are_left_out_of_profile_and_comparison():
    reference = pd.DataFrame({"x": [*np.linspace(0, 1, 1000), *[np.nan] * 500]})
    profile = feature_profile(reference, ["x"])

    assert profile["x"]["rows"] == 1000
    assert population_stability(profile, reference)["x"] < 1e-6
