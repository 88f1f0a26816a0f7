"""The online path's compiled models: ONNX Runtime's answers against scikit-learn's own, and
the models it refuses to compile or serve."""

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from training_assets.core.ml.compiled import (
    TOLERANCE,
    compile_model,
    exact_in_float32,
    probe_rows,
)
from training_assets.core.ml.elastic_net import fit_elastic_net

COLUMNS = ["conv_rate", "acc_rate", "avg_daily_trips"]


def spreadsheet_like(rng, n=500) -> pd.DataFrame:
    """Rows as a user's export gives them: nulls in every column, integer trips as floats."""
    frame = pd.DataFrame(
        {
            "conv_rate": rng.uniform(0, 1, n).astype("float32"),
            "acc_rate": rng.uniform(0, 1, n).astype("float32"),
            "avg_daily_trips": rng.integers(0, 60, n).astype("float64"),
        }
    )
    for column in COLUMNS:
        frame.loc[rng.uniform(0, 1, n) < 0.1, column] = np.nan
    return frame


def test_the_trained_pipeline_compiles_and_answers_as_scikit_learn_does():
    rng = np.random.default_rng(3)
    train = spreadsheet_like(rng)
    labels = pd.Series((rng.uniform(0, 1, len(train)) < 0.5).astype(float))
    model = fit_elastic_net(train, labels, alpha=0.01, l1_ratio=0.5, random_state=1)

    # The columns in another order than the model's: it reorders them.
    compiled, reason = compile_model(model, list(reversed(COLUMNS)))

    assert compiled is not None, reason
    assert compiled.columns == COLUMNS
    served = spreadsheet_like(np.random.default_rng(4))
    expected = model.predict(served)
    found = compiled.predict(served[COLUMNS].to_numpy(dtype=np.float32))
    assert np.max(np.abs(found - expected)) <= TOLERANCE
    assert not np.array_equal(found, expected)  # float32 arithmetic: close, not identical


def test_a_model_that_cannot_be_compiled_is_named_and_left_to_pyfunc():
    frame = spreadsheet_like(np.random.default_rng(5)).fillna(0)
    model = make_pipeline(FunctionTransformer(lambda x: x * 2), LinearRegression())
    model.fit(frame, frame["acc_rate"])

    compiled, reason = compile_model(model, COLUMNS)

    assert compiled is None
    assert reason.startswith("not compiled to ONNX")


def test_a_model_whose_float32_form_loses_what_it_relies_on_is_refused():
    # Coefficients that differ from each other in the eighth digit: float32 rounds them equal,
    # so on equal inputs (the probes' ones) its answer is 0 where scikit-learn's is 0.03.
    model = make_pipeline(SimpleImputer(), LinearRegression())
    model.fit(probe_rows(COLUMNS[:2]), np.zeros(256))
    model[-1].coef_ = np.array([1e6 + 0.03, -1e6])
    model[-1].intercept_ = 0.0

    compiled, reason = compile_model(model, COLUMNS[:2])

    assert compiled is None
    assert "ONNX differs from scikit-learn by" in reason


def test_a_model_whose_columns_are_not_the_signatures_is_refused():
    frame = spreadsheet_like(np.random.default_rng(6)).fillna(0)
    model = LinearRegression().fit(frame, frame["acc_rate"])

    compiled, reason = compile_model(model, ["conv_rate", "acc_rate", "trips"])

    assert compiled is None
    assert "the signature names" in reason


def test_values_beyond_float32s_integers_are_left_to_pyfunc():
    assert exact_in_float32(np.array([[0.5, np.nan, 2.0**24]]))
    assert not exact_in_float32(np.array([[0.5, np.nan, 2.0**24 + 1]]))
    assert not exact_in_float32(np.array([[-(2.0**25), 0.0, 0.0]]))


def test_retrained_pipelines_of_any_weights_compile():
    # Pipelines as retrains make them, each on a world of its own weights: float32's rounding
    # on the rows they see must not send one of them back to pyfunc.
    # (Probes far outside the data, at 1e5 on a rate, turned down seeds 16 and 39.)
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        train = spreadsheet_like(rng, 3000)
        weights = rng.normal(0, 3, 3)
        logit = (train.fillna(train.median()) - [0.5, 0.5, 30]) / [0.3, 0.3, 17] @ weights
        labels = pd.Series((rng.uniform(0, 1, len(train)) < 1 / (1 + np.exp(-logit))) * 1.0)
        for alpha in (0.01, 0.1):
            model = fit_elastic_net(train, labels, alpha=alpha, l1_ratio=0.5, random_state=seed)

            compiled, reason = compile_model(model, COLUMNS)

            assert compiled is not None, (seed, alpha, reason)


def test_a_classifier_and_a_model_that_refuses_nulls_are_left_to_pyfunc():
    frame = spreadsheet_like(np.random.default_rng(7)).fillna(0)
    classifier = LogisticRegression().fit(frame, frame["acc_rate"] > 0.5)
    compiled, reason = compile_model(classifier, COLUMNS)
    assert compiled is None and "outputs, not one" in reason

    # No imputation: scikit-learn refuses the probes' nulls, so it is never checked.
    plain = LinearRegression().fit(frame, frame["acc_rate"])
    compiled, reason = compile_model(plain, COLUMNS)
    assert compiled is None and reason.startswith("not checked against scikit-learn")
