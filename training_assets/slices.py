"""Per-slice error, to find a group the model serves badly while it looks fine overall."""

import numpy as np
import pandas as pd


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
