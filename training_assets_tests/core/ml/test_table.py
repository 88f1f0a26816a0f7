"""Unit tests for the plain ML steps in training_assets.training."""

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import ElasticNet, LinearRegression
from sklearn.pipeline import Pipeline

from training_assets.core.ml.elastic_net import coefficients, fit_elastic_net
from training_assets.core.ml.metrics import regression_metrics
from training_assets.core.ml.split import split_frame
from training_assets.core.ml.table import ORDER_POSITION, as_training_table, with_order_position
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURE_EPOCH,
    FEATURE_TIMESTAMP,
    FEATURES,
    LABEL,
    TRAINING_COLUMNS,
)


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


def linear_data(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Features on their pipeline scales; the label depends on all three."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "conv_rate": rng.uniform(0, 1, n).astype(np.float32),
            "acc_rate": rng.uniform(0, 1, n).astype(np.float32),
            "avg_daily_trips": rng.uniform(5, 40, n),
        }
    )
    y = 0.5 * x["conv_rate"] + 0.4 * x["acc_rate"] + 0.02 * x["avg_daily_trips"]
    y = (y + rng.normal(0, 0.1, n)).rename(LABEL)
    return x, y


# --- split_frame ---------------------------------------------------------------------------


@pytest.mark.parametrize(("test_size", "n_test"), [(0.2, 20), (0.25, 25), (0.5, 50)])
def test_split_sizes_match_test_size(test_size, n_test):
    split = split_frame(training_table(100), test_size=test_size, random_seed=1)

    assert len(split.test_x) == len(split.test_y) == n_test
    assert len(split.train_x) == len(split.train_y) == 100 - n_test


def test_split_partitions_the_rows():
    frame = training_table(100)
    split = split_frame(frame, test_size=0.3, random_seed=1)

    train_rows, test_rows = set(split.train_x.index), set(split.test_x.index)
    assert train_rows.isdisjoint(test_rows)
    assert train_rows | test_rows == set(frame.index)
    # X and y of each side are the same rows in the same order.
    assert list(split.train_x.index) == list(split.train_y.index)
    assert list(split.test_x.index) == list(split.test_y.index)


def test_split_same_seed_gives_same_split():
    frame = training_table(100)
    first = split_frame(frame, test_size=0.2, random_seed=7)
    second = split_frame(frame, test_size=0.2, random_seed=7)

    pd.testing.assert_frame_equal(first.train_x, second.train_x)
    pd.testing.assert_frame_equal(first.test_x, second.test_x)
    pd.testing.assert_series_equal(first.train_y, second.train_y)
    pd.testing.assert_series_equal(first.test_y, second.test_y)


def test_split_different_seed_gives_different_split():
    frame = training_table(100)
    first = split_frame(frame, test_size=0.2, random_seed=7)
    second = split_frame(frame, test_size=0.2, random_seed=8)

    assert set(first.test_x.index) != set(second.test_x.index)


def test_split_x_holds_only_features_and_y_only_label():
    frame = training_table(50).assign(extra=1.0)
    split = split_frame(frame, test_size=0.2, random_seed=0)

    assert list(split.train_x.columns) == list(FEATURES)
    assert list(split.test_x.columns) == list(FEATURES)
    assert split.train_y.name == LABEL
    assert split.test_y.name == LABEL
    pd.testing.assert_series_equal(split.train_y, frame.loc[split.train_y.index, LABEL])
    pd.testing.assert_frame_equal(split.test_x, frame.loc[split.test_x.index, list(FEATURES)])


@pytest.mark.parametrize("test_size", [0, 1, -0.1, 1.5, float("nan")])
def test_split_rejects_bad_test_size(test_size):
    with pytest.raises(ValueError, match="test_size must be in \\(0, 1\\)"):
        split_frame(training_table(20), test_size=test_size, random_seed=0)


# --- fit_elastic_net -----------------------------------------------------------------------


def test_fit_with_scaling_keeps_all_three_coefficients():
    x, y = linear_data()

    model = fit_elastic_net(x, y, alpha=0.1, l1_ratio=0.5, random_state=0)

    coefs = coefficients(model)
    assert list(coefs) == list(FEATURES)
    assert all(value > 0.01 for value in coefs.values()), coefs
    # The same penalty on unscaled features zeroes both rates: the scaler is what keeps them.
    raw = ElasticNet(alpha=0.1, l1_ratio=0.5, random_state=0).fit(x, y).coef_
    assert raw[0] == 0.0 and raw[1] == 0.0


def test_fit_imputes_nan_features_with_the_median():
    x, y = linear_data(500)
    x.loc[::10, "conv_rate"] = np.nan
    x.loc[5::10, "avg_daily_trips"] = np.nan

    model = fit_elastic_net(x, y, alpha=0.01, l1_ratio=0.5, random_state=0)

    holes = pd.DataFrame(
        {"conv_rate": [np.nan, 0.5], "acc_rate": [0.3, np.nan], "avg_daily_trips": [np.nan, 20.0]}
    )
    predicted = model.predict(holes)
    assert np.isfinite(predicted).all()
    medians = pd.DataFrame(
        {
            "conv_rate": [x["conv_rate"].median(), 0.5],
            "acc_rate": [0.3, x["acc_rate"].median()],
            "avg_daily_trips": [x["avg_daily_trips"].median(), 20.0],
        }
    )
    np.testing.assert_allclose(predicted, model.predict(medians), rtol=1e-6)


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

    metrics = regression_metrics(model, test_x, test_y, train_y)

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

    metrics = regression_metrics(model, test_x, test_y, train_y)

    expected = math.sqrt(((10 - 0) ** 2 + (10 - 1) ** 2 + (10 - 2) ** 2) / 3)
    assert metrics["baseline_rmse"] == pytest.approx(expected)
    # Predicting the test mean (1) would give sqrt(2/3); the gate must not get that.
    assert metrics["baseline_rmse"] != pytest.approx(math.sqrt(2 / 3))


# --- with_order_position / as_training_table -----------------------------------------------


def orders_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            EVENT_TIMESTAMP: pd.to_datetime(
                [
                    "2025-12-03 10:00",
                    "2025-12-01 09:00",
                    "2025-12-02 08:00",
                    "2025-12-01 07:00",
                    "2025-12-04 06:00",
                ],
                utc=True,
            ),
            ENTITY_KEY: np.array([1003, 1001, 1002, 1001, 1004], dtype=np.int64),
            LABEL: np.array([1, 0, 1, 1, 0], dtype=np.int64),
        }
    )


def test_with_order_position_numbers_rows_without_touching_input():
    orders = orders_frame()

    positioned = with_order_position(orders)

    assert list(positioned[ORDER_POSITION]) == [0, 1, 2, 3, 4]
    assert positioned[ORDER_POSITION].dtype == np.int64
    assert ORDER_POSITION not in orders.columns
    pd.testing.assert_frame_equal(positioned.drop(columns=ORDER_POSITION), orders)


def joined_like_feast(orders: pd.DataFrame) -> pd.DataFrame:
    """What a join may hand back: shuffled rows and columns, microsecond timestamps, extras."""
    joined = with_order_position(orders)
    joined["avg_daily_trips"] = [10.0, 11.0, 12.0, 13.0, np.nan]
    joined["zz_unknown"] = ["a", "b", "c", "d", "e"]
    joined["conv_rate"] = np.array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=np.float32)
    joined["acc_rate"] = np.array([0.9, 0.8, 0.7, 0.6, 0.5], dtype=np.float32)
    joined["aa_unknown"] = [5, 4, 3, 2, 1]
    # Feast serves the joined row's time as epoch seconds, null where no row was joined.
    joined[FEATURE_EPOCH] = [
        *(joined[EVENT_TIMESTAMP].iloc[:4].astype("int64") // 10**9 - 1800),
        np.nan,
    ]
    joined[EVENT_TIMESTAMP] = joined[EVENT_TIMESTAMP].astype("datetime64[us, UTC]")
    shuffled = joined.sample(frac=1, random_state=4)
    assert list(shuffled[ORDER_POSITION]) != [0, 1, 2, 3, 4]
    columns = [
        "zz_unknown",
        FEATURE_EPOCH,
        "acc_rate",
        ORDER_POSITION,
        LABEL,
        "aa_unknown",
        ENTITY_KEY,
        "avg_daily_trips",
        EVENT_TIMESTAMP,
        "conv_rate",
    ]
    return shuffled[columns]


def rebuilt(joined: pd.DataFrame) -> pd.DataFrame:
    """as_training_table on the Arrow table of `joined`, back as a frame to assert on."""
    return as_training_table(pa.Table.from_pandas(joined, preserve_index=False)).to_pandas()


def test_as_training_table_restores_input_order():
    orders = orders_frame()

    table = rebuilt(joined_like_feast(orders))

    assert list(table[ENTITY_KEY]) == [1003, 1001, 1002, 1001, 1004]
    assert list(table[EVENT_TIMESTAMP]) == list(orders[EVENT_TIMESTAMP])
    assert list(table["zz_unknown"]) == ["a", "b", "c", "d", "e"]
    assert list(table["aa_unknown"]) == [5, 4, 3, 2, 1]
    assert list(table.index) == [0, 1, 2, 3, 4]


def test_as_training_table_drops_position_and_orders_columns():
    table = rebuilt(joined_like_feast(orders_frame()))

    assert ORDER_POSITION not in table.columns
    # Schema columns first in schema order, unknown ones after them in the order found.
    assert list(table.columns) == list(TRAINING_COLUMNS) + ["zz_unknown", "aa_unknown"]


def test_as_training_table_turns_the_feature_epoch_into_a_utc_timestamp():
    orders = orders_frame()
    table = rebuilt(joined_like_feast(orders))

    assert FEATURE_EPOCH not in table.columns
    assert str(table[FEATURE_TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    assert table[FEATURE_TIMESTAMP].iloc[0] == orders[EVENT_TIMESTAMP].iloc[0] - pd.Timedelta(
        minutes=30
    )
    assert pd.isna(table[FEATURE_TIMESTAMP].iloc[4])


def test_as_training_table_normalises_timestamps_to_ns_utc():
    table = rebuilt(joined_like_feast(orders_frame()))

    assert str(table[EVENT_TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    assert table[EVENT_TIMESTAMP].iloc[0] == pd.Timestamp("2025-12-03 10:00", tz="UTC")


def test_as_training_table_converts_other_zones_to_utc():
    orders = orders_frame()
    orders[EVENT_TIMESTAMP] = orders[EVENT_TIMESTAMP].dt.tz_convert("Asia/Tokyo")

    table = rebuilt(with_order_position(orders))

    assert str(table[EVENT_TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    assert table[EVENT_TIMESTAMP].iloc[0] == pd.Timestamp("2025-12-03 10:00", tz="UTC")


def test_as_training_table_reads_naive_timestamps_as_utc():
    orders = orders_frame()
    orders[EVENT_TIMESTAMP] = orders[EVENT_TIMESTAMP].dt.tz_localize(None)

    table = rebuilt(with_order_position(orders))

    assert str(table[EVENT_TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    assert table[EVENT_TIMESTAMP].iloc[0] == pd.Timestamp("2025-12-03 10:00", tz="UTC")
