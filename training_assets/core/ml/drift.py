"""Feature drift: reference profiles of training features and the PSI of new data against them.

PSI (population stability index) compares binned shares: the reference's deciles against the
share of new values falling in the same bins. Rules of thumb read below 0.1 as stable, 0.1 to
0.2 as a moderate shift and above 0.2 as a significant one.
"""

import numpy as np
import pandas as pd

# Keeps an empty bin from making the logarithm infinite.
_EPSILON = 1e-4


def feature_profile(frame: pd.DataFrame, features: list[str], bins: int = 10) -> dict:
    """Per-feature quantile bin edges and the reference share in each bin.

    Returns:
        `{feature: {"edges": [...], "shares": [...]}}`, JSON-serialisable so it can be stored
        with the model's MLflow run.
    """
    profile = {}
    for feature in features:
        values = frame[feature].dropna().to_numpy(dtype=float)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
        profile[feature] = {
            "edges": edges.tolist(),
            "shares": _shares(values, edges).tolist(),
            "rows": int(len(values)),
        }
    return profile


def population_stability(profile: dict, frame: pd.DataFrame) -> dict[str, float]:
    """PSI of each profiled feature in `frame` against its reference shares."""
    result = {}
    for feature, reference in profile.items():
        values = frame[feature].dropna().to_numpy(dtype=float)
        expected = np.asarray(reference["shares"]) + _EPSILON
        actual = _shares(values, np.asarray(reference["edges"])) + _EPSILON
        result[feature] = float(np.sum((actual - expected) * np.log(actual / expected)))
    return result


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of `values` per bin; values outside the reference range fall in the end bins."""
    if len(edges) < 2:
        return np.ones(1)
    inner = edges[1:-1]
    counts = np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(edges) - 1)
    return counts / max(len(values), 1)
