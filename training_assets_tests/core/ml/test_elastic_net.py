"""Unit tests for fitting the model in training_assets.core.ml.elastic_net."""

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from training_assets.core.ml import elastic_net
from training_assets.core.ml.elastic_net import coefficients, fit_elastic_net, fit_matrix
from training_assets.core.schema import LABEL
from training_assets_tests.repo_schema import repo_schema

FEATURES = repo_schema().feature_names


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


def test_the_fit_leaves_its_inputs_as_they_were_and_matches_a_float64_fit():
    x, y = linear_data(3000, seed=4)
    x.loc[::7, "avg_daily_trips"] = np.nan
    before = x.copy()

    model = fit_elastic_net(x, y, alpha=0.01, l1_ratio=0.5, random_state=0)

    pd.testing.assert_frame_equal(x, before)
    # The same pipeline on float64 copies, stage by stage, as sklearn does by default.
    reference = Pipeline(
        [
            ("impute", SimpleImputer(strategy=np.median)),
            ("scale", StandardScaler()),
            ("regress", ElasticNet(alpha=0.01, l1_ratio=0.5, random_state=0)),
        ]
    ).fit(x.astype("float64"), y)
    np.testing.assert_allclose(
        model.predict(x), reference.predict(x.astype("float64")), rtol=1e-4, atol=1e-5
    )


def test_predicting_never_writes_into_the_callers_frame():
    x, y = linear_data(500)
    model = fit_elastic_net(x, y, alpha=0.01, l1_ratio=0.5, random_state=0)
    # One float32 block with holes: the layout a stage could impute and scale in place.
    holes = fit_matrix(x.head(50))
    holes.iloc[::5, 0] = np.nan
    before = holes.copy()

    model.predict(holes)

    pd.testing.assert_frame_equal(holes, before)


def test_a_fit_whose_scaler_gathers_its_statistics_in_chunks_equals_the_pipelines_fit(
    monkeypatch,
):
    x, y = linear_data(5000, seed=3)
    x.loc[::7, "acc_rate"] = np.nan
    whole = elastic_net._pipeline(0.01, 0.5, 0, in_place=False).fit(x, y)
    # Chunks of 1,024 rows, the last one short.
    monkeypatch.setattr(elastic_net, "_SCALER_ROWS", 1024)

    chunked = fit_elastic_net(x, y, alpha=0.01, l1_ratio=0.5, random_state=0)

    scaler, reference = chunked.named_steps["scale"], whole.named_steps["scale"]
    assert scaler.n_samples_seen_ == 5000
    np.testing.assert_allclose(scaler.mean_, reference.mean_, rtol=1e-6)
    np.testing.assert_allclose(scaler.var_, reference.var_, rtol=1e-5)
    np.testing.assert_allclose(chunked.predict(x), whole.predict(x), atol=1e-4)
