"""Scores of a fitted model on held-out rows: overall, against the mean baseline, and per slice."""

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.pipeline import Pipeline


def regression_metrics(
    model: Pipeline, test_x: pd.DataFrame, test_y: pd.Series, train_y: pd.Series
) -> dict[str, float]:
    """RMSE, MAE and R² on the test split, and the RMSE of predicting the training mean.

    Returns:
        `rmse`, `mae`, `r2`, `baseline_rmse` and `test_rows`.
    """
    predicted = model.predict(test_x)
    baseline = np.full(len(test_y), float(train_y.mean()))
    return {
        "rmse": float(np.sqrt(mean_squared_error(test_y, predicted))),
        "mae": float(mean_absolute_error(test_y, predicted)),
        "r2": float(r2_score(test_y, predicted)),
        "baseline_rmse": float(np.sqrt(mean_squared_error(test_y, baseline))),
        "test_rows": len(test_y),
    }


def slice_rmse(slice_values: pd.Series, truth: pd.Series, predicted: np.ndarray) -> pd.DataFrame:
    """RMSE and row count per slice value.

    Returns:
        Columns `slice`, `rows` and `rmse`, worst slice first.
    """
    errors = pd.DataFrame(
        {
            "slice": slice_values.to_numpy(),
            "squared_error": (truth.to_numpy(dtype=float) - np.asarray(predicted, dtype=float))
            ** 2,
        }
    )
    grouped = errors.groupby("slice", sort=False)["squared_error"]
    table = pd.DataFrame({"rows": grouped.size(), "rmse": np.sqrt(grouped.mean())})
    return table.reset_index().sort_values("rmse", ascending=False, ignore_index=True)
