"""Unit tests for the train/test split in training_assets.core.ml.split."""

import numpy as np
import pandas as pd
import pytest

from training_assets.core.ml.split import split_frame
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL
from training_assets_tests.repo_schema import repo_schema

FEATURES = repo_schema().feature_names


def training_table(n: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            ENTITY_KEY: np.arange(1000, 1000 + n, dtype=np.int64),
            EVENT_TIMESTAMP: pd.date_range("2025-12-01", periods=n, freq="h", tz="UTC"),
            LABEL: rng.integers(0, 2, n).astype(np.int64),
            "conv_rate": rng.uniform(0, 1, n).astype(np.float32),
            "acc_rate": rng.uniform(0, 1, n).astype(np.float32),
            "avg_daily_trips": rng.integers(0, 40, n).astype(np.float64),
        }
    )


@pytest.mark.parametrize(("test_size", "n_test"), [(0.2, 20), (0.25, 25), (0.5, 50)])
def test_split_sizes_match_test_size(test_size, n_test):
    split = split_frame(training_table(100), FEATURES, test_size=test_size, random_seed=1)

    assert len(split.test_x) == len(split.test_y) == n_test
    assert len(split.train_x) == len(split.train_y) == 100 - n_test


def test_split_partitions_the_rows():
    frame = training_table(100)
    split = split_frame(frame, FEATURES, test_size=0.3, random_seed=1)

    train_rows, test_rows = set(split.train_x.index), set(split.test_x.index)
    assert train_rows.isdisjoint(test_rows)
    assert train_rows | test_rows == set(frame.index)
    # X and y of each side are the same rows in the same order.
    assert list(split.train_x.index) == list(split.train_y.index)
    assert list(split.test_x.index) == list(split.test_y.index)


def test_split_same_seed_gives_same_split():
    frame = training_table(100)
    first = split_frame(frame, FEATURES, test_size=0.2, random_seed=7)
    second = split_frame(frame, FEATURES, test_size=0.2, random_seed=7)

    pd.testing.assert_frame_equal(first.train_x, second.train_x)
    pd.testing.assert_frame_equal(first.test_x, second.test_x)
    pd.testing.assert_series_equal(first.train_y, second.train_y)
    pd.testing.assert_series_equal(first.test_y, second.test_y)


def test_split_different_seed_gives_different_split():
    frame = training_table(100)
    first = split_frame(frame, FEATURES, test_size=0.2, random_seed=7)
    second = split_frame(frame, FEATURES, test_size=0.2, random_seed=8)

    assert set(first.test_x.index) != set(second.test_x.index)


def test_split_x_holds_only_features_and_y_only_label():
    frame = training_table(50).assign(extra=1.0)
    split = split_frame(frame, FEATURES, test_size=0.2, random_seed=0)

    assert list(split.train_x.columns) == list(FEATURES)
    assert list(split.test_x.columns) == list(FEATURES)
    assert split.train_y.name == LABEL
    assert split.test_y.name == LABEL
    pd.testing.assert_series_equal(split.train_y, frame.loc[split.train_y.index, LABEL])
    pd.testing.assert_frame_equal(split.test_x, frame.loc[split.test_x.index, list(FEATURES)])


@pytest.mark.parametrize("test_size", [0, 1, -0.1, 1.5, float("nan")])
def test_split_rejects_bad_test_size(test_size):
    with pytest.raises(ValueError, match="test_size must be in \\(0, 1\\)"):
        split_frame(training_table(20), FEATURES, test_size=test_size, random_seed=0)
