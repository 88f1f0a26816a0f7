"""Unit tests for the training-data profile in training_assets.core.tracking.profiles."""

import numpy as np
import pandas as pd

from training_assets.core.ml.drift import feature_profile
from training_assets.core.tracking import profiles


def training_rows(n: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(5)
    x = pd.DataFrame(
        {
            "conv_rate": rng.uniform(0, 1, n).astype(np.float32),
            "avg_daily_trips": rng.integers(0, 40, n).astype(np.float64),
        }
    )
    return x, pd.Series(rng.integers(0, 2, n))


def test_a_table_within_the_sample_size_is_profiled_whole():
    x, y = training_rows(3000)

    profile = profiles.training_profile(x, y)

    assert profile["features"] == feature_profile(x, list(x.columns))
    assert profile["label_rate"] == y.mean()


def test_a_larger_table_is_profiled_from_a_sample_of_distinct_rows(monkeypatch):
    x, y = training_rows(20_000)
    monkeypatch.setattr(profiles, "PROFILE_SAMPLE_ROWS", 2_000)

    profile = profiles.training_profile(x, y)
    again = profiles.training_profile(x, y)

    whole = feature_profile(x, list(x.columns))
    assert profile == again  # seeded
    assert profile["features"]["conv_rate"]["rows"] == 2_000
    # Deciles of a 2,000-row sample of uniform rates lie near the table's.
    np.testing.assert_allclose(
        profile["features"]["conv_rate"]["edges"], whole["conv_rate"]["edges"], atol=0.05
    )
    # The label rate is the whole split's, not the sample's.
    assert profile["label_rate"] == y.mean()
