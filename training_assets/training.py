"""The ML steps as plain functions: assemble the table, split, fit and score.

Nothing here imports Dagster, Feast or MLflow; the assets wire these to storage and tracking.
"""

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from training_assets.schema import (
    EVENT_TIMESTAMP,
    FEATURE_EPOCH,
    FEATURE_TIMESTAMP,
    FEATURES,
    LABEL,
    TRAINING_COLUMNS,
)

ORDER_POSITION = "__order_position"


class Split(NamedTuple):
    train_x: pd.DataFrame
    train_y: pd.Series
    test_x: pd.DataFrame
    test_y: pd.Series
    # The test rows' other columns (keys, feature timestamp), for slicing the evaluation.
    test_keys: pd.DataFrame


def with_order_position(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders with a column recording each row's position, to restore order after a join."""
    return orders.assign(**{ORDER_POSITION: np.arange(len(orders), dtype=np.int64)})


def as_training_table(joined: pd.DataFrame) -> pd.DataFrame:
    """The joined frame back in input order, without the position column.

    Columns the schema knows come first, in schema order. Anything else is kept after them,
    so that the schema gates report it instead of it vanishing here.
    """
    if not joined[ORDER_POSITION].is_monotonic_increasing:
        joined = joined.sort_values(ORDER_POSITION, kind="stable")
    if FEATURE_EPOCH in joined.columns:
        joined = joined.assign(
            **{FEATURE_TIMESTAMP: _utc_from_epoch_seconds(joined[FEATURE_EPOCH])}
        ).drop(columns=FEATURE_EPOCH)
    known = [column for column in TRAINING_COLUMNS if column in joined.columns]
    extra = [c for c in joined.columns if c not in TRAINING_COLUMNS and c != ORDER_POSITION]
    # One selection, so a large table is copied once.
    table = joined[known + extra].reset_index(drop=True)
    if EVENT_TIMESTAMP in table and pd.api.types.is_datetime64_any_dtype(table[EVENT_TIMESTAMP]):
        table[EVENT_TIMESTAMP] = _as_utc_ns(table[EVENT_TIMESTAMP])
    return table


def _as_utc_ns(times: pd.Series) -> pd.Series:
    """Times as datetime64[ns, UTC]; naive times are UTC, as Feast reads them."""
    if times.dt.tz is None:
        times = times.dt.tz_localize("UTC")
    # A unit change and a zone change are cheap; pd.to_datetime on 10M rows is not.
    return times.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def _utc_from_epoch_seconds(seconds: pd.Series) -> pd.Series:
    """Epoch seconds (nulls allowed) as datetime64[ns, UTC], via integer nanoseconds."""
    values = seconds.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(values)
    nanoseconds = np.where(missing, 0, values).astype(np.int64) * 1_000_000_000
    times = nanoseconds.view("datetime64[ns]").copy()
    times[missing] = np.datetime64("NaT")
    return pd.Series(times, index=seconds.index).dt.tz_localize("UTC")


def split_frame(
    frame: pd.DataFrame, test_size: float, random_seed: int, strategy: str = "random"
) -> Split:
    """A train/test split with only the feature columns in X.

    Args:
        frame: The training table.
        test_size: Share of rows held out for the test split, in (0, 1).
        random_seed: Seed of the shuffle for the random strategy.
        strategy: "random" shuffles with the seed; "time" trains on the earliest orders and tests
            on the latest `test_size` share, as a model is used on orders after its training.

    Raises:
        ValueError: on a bad `test_size` or `strategy`, or if the splits would share a row.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), found {test_size}")
    if strategy == "random":
        train, test = train_test_split(frame, test_size=test_size, random_state=random_seed)
    elif strategy == "time":
        ordered = frame.sort_values(EVENT_TIMESTAMP, kind="stable")
        cut = len(ordered) - int(np.ceil(len(ordered) * test_size))
        train, test = ordered.iloc[:cut], ordered.iloc[cut:]
    else:
        raise ValueError(f"strategy must be 'random' or 'time', found {strategy!r}")
    shared = train.index.intersection(test.index)
    if len(shared):
        raise ValueError(f"train and test splits share {len(shared)} rows")
    others = [column for column in frame.columns if column not in (*FEATURES, LABEL)]
    return Split(
        train_x=train[list(FEATURES)],
        train_y=train[LABEL],
        test_x=test[list(FEATURES)],
        test_y=test[LABEL],
        test_keys=test[others],
    )


def fit_elastic_net(
    train_x: pd.DataFrame,
    train_y: pd.Series,
    alpha: float,
    l1_ratio: float,
    random_state: int,
) -> Pipeline:
    """Fit ElasticNet behind median imputation and standard scaling.

    The scaler matters: on raw features, `avg_daily_trips` (tens) dwarfs the two rates (0 to 1),
    and the penalty zeroes the rates' coefficients. Imputation covers orders that had no
    feature row in force at their time.
    """
    return _pipeline(alpha, l1_ratio, random_state).fit(train_x, train_y)


def _pipeline(alpha: float, l1_ratio: float, random_state: int) -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("regress", ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=random_state)),
        ]
    )


def search_elastic_net(
    train_x: pd.DataFrame,
    train_y: pd.Series,
    alphas: list[float],
    l1_ratios: list[float],
    folds: int,
    random_state: int,
) -> tuple[Pipeline, list[dict]]:
    """Cross-validated grid search of ElasticNet's alpha and l1_ratio by RMSE.

    Returns:
        The pipeline refit on all rows with the best pair, and one record per candidate with
        its `alpha`, `l1_ratio` and mean cross-validated `cv_rmse`.
    """
    search = GridSearchCV(
        _pipeline(1.0, 0.5, random_state),
        param_grid={"regress__alpha": alphas, "regress__l1_ratio": l1_ratios},
        scoring="neg_root_mean_squared_error",
        cv=folds,
    )
    search.fit(train_x, train_y)
    results = search.cv_results_
    candidates = [
        {
            "alpha": float(params["regress__alpha"]),
            "l1_ratio": float(params["regress__l1_ratio"]),
            "cv_rmse": float(-score),
        }
        for params, score in zip(results["params"], results["mean_test_score"], strict=True)
    ]
    return search.best_estimator_, candidates


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


def coefficients(model: Pipeline) -> dict[str, float]:
    """The fitted ElasticNet's coefficient per feature, on the scaled inputs."""
    return dict(zip(FEATURES, map(float, model.named_steps["regress"].coef_), strict=True))
