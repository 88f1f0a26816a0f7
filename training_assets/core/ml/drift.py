"""Feature drift: reference profiles of training features and the PSI of new data against them.

PSI (population stability index) compares binned shares: the reference's deciles against the
share of new values falling in the same bins. Rules of thumb read below 0.1 as stable, 0.1 to
0.2 as a moderate shift and above 0.2 as a significant one.
"""

import numpy as np
import pandas as pd

from training_assets.core.data.table_query import TableQuery, quote

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


def population_stability(profile: dict, table) -> dict[str, float]:
    """PSI of each profiled feature in `table` (a frame, an Arrow table or a TableQuery on the
    training table's file) against its reference shares.

    The bins are counted by DuckDB, so a file is read one column at a time and never held.
    """
    if isinstance(table, TableQuery):
        return {
            feature: _psi(reference, _bin_counts(table, feature, reference["edges"]))
            for feature, reference in profile.items()
        }
    with TableQuery(table) as query:
        return population_stability(profile, query)


def _bin_counts(query, feature: str, edges: list[float]) -> np.ndarray:
    """Rows of `feature` per reference bin, nulls and NaN left out; values outside the
    reference range fall in the end bins, as `_shares` counts them."""
    bins = max(len(edges) - 1, 1)
    value = f"CAST({quote(feature)} AS DOUBLE)"
    # A value's bin is the number of inner edges at or below it (searchsorted, side right).
    index = " + ".join(f"({value} >= {edge!r})::INTEGER" for edge in edges[1:-1]) or "0"
    counts = np.zeros(bins)
    for position, count in query.rows(
        f"SELECT {index} AS bin, count(*) FROM {{t}} "
        f"WHERE NOT {query.missing(feature)} GROUP BY bin"
    ):
        counts[position] = count
    return counts


def _psi(reference: dict, counts: np.ndarray) -> float:
    expected = np.asarray(reference["shares"]) + _EPSILON
    if len(reference["edges"]) < 2:
        actual = np.ones(1) + _EPSILON
    else:
        actual = counts / max(counts.sum(), 1) + _EPSILON
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of `values` per bin; values outside the reference range fall in the end bins."""
    if len(edges) < 2:
        return np.ones(1)
    inner = edges[1:-1]
    counts = np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(edges) - 1)
    return counts / max(len(values), 1)
