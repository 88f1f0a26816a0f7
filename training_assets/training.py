"""The ML steps as plain functions: assemble the table, split, fit and score.

Nothing here imports Dagster, Feast or MLflow; the assets wire these to storage and tracking.
"""

from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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
# Arrow's UTC nanosecond timestamp; naive times cast to it keep their values, so read as UTC.
UTC_NS = pa.timestamp("ns", tz="UTC")


class Split(NamedTuple):
    train_x: pd.DataFrame
    train_y: pd.Series
    test_x: pd.DataFrame
    test_y: pd.Series
    # The test rows' other columns (keys, feature timestamp), for slicing the evaluation.
    test_keys: pd.DataFrame


def with_order_position(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders with a column recording each row's position, to restore order after a join.

    The input is left as it is; the result shares its columns rather than copying them.
    """
    positioned = orders.copy(deep=False)
    positioned[ORDER_POSITION] = np.arange(len(orders), dtype=np.int64)
    return positioned


def as_training_table(joined: pa.Table) -> pa.Table:
    """The joined table back in input order, without the position column.

    Columns the schema knows come first, in schema order. Anything else is kept after them,
    so that the schema gates report it instead of it vanishing here. Event and feature times
    become UTC nanosecond timestamps; naive times are UTC, as Feast reads them. Columns are
    re-typed or reordered without copying the others.
    """
    positions = joined.column(ORDER_POSITION)
    if len(positions) > 1 and not _is_increasing(positions):
        joined = joined.take(pc.sort_indices(positions))
    if FEATURE_EPOCH in joined.column_names:
        seconds = joined.column(FEATURE_EPOCH).cast(pa.int64())
        nanoseconds = pc.multiply_checked(seconds, 1_000_000_000)
        joined = joined.append_column(FEATURE_TIMESTAMP, nanoseconds.cast(UTC_NS))
    if EVENT_TIMESTAMP in joined.column_names and pa.types.is_timestamp(
        joined.schema.field(EVENT_TIMESTAMP).type
    ):
        index = joined.schema.get_field_index(EVENT_TIMESTAMP)
        joined = joined.set_column(index, EVENT_TIMESTAMP, joined.column(index).cast(UTC_NS))
    names = joined.column_names
    known = [column for column in TRAINING_COLUMNS if column in names]
    dropped = {ORDER_POSITION, FEATURE_EPOCH}
    extra = [c for c in names if c not in TRAINING_COLUMNS and c not in dropped]
    # Pandas metadata from an earlier frame would restore that frame's zones and dtypes.
    return joined.select(known + extra).replace_schema_metadata(None)


def rows_without_features(table: pa.Table) -> int:
    """Rows in which every feature the table has is null or NaN: orders no stats row matched."""
    present = [table.column(name) for name in FEATURES if name in table.column_names]
    if not present:
        return table.num_rows
    missing = pc.is_null(present[0], nan_is_null=True)
    for column in present[1:]:
        missing = pc.and_(missing, pc.is_null(column, nan_is_null=True))
    return int(pc.sum(missing).as_py() or 0)


def positive_rate(table: pa.Table) -> float:
    """The mean label, 0.0 for a table without rows or labels."""
    if LABEL not in table.column_names or table.num_rows == 0:
        return 0.0
    mean = pc.mean(table.column(LABEL).cast(pa.float64())).as_py()
    return 0.0 if mean is None else float(mean)


def _is_increasing(values: pa.ChunkedArray) -> bool:
    return pc.all(pc.greater(values[1:], values[:-1])).as_py()


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
    # Row positions are split, and each output gathers only its own columns: no copy of the
    # whole table on the way. The positions are those train_test_split gives the frame.
    count = len(frame)
    if strategy == "random":
        train_rows, test_rows = train_test_split(
            np.arange(count), test_size=test_size, random_state=random_seed
        )
    elif strategy == "time":
        order = np.argsort(frame[EVENT_TIMESTAMP].to_numpy(), kind="stable")
        cut = count - int(np.ceil(count * test_size))
        train_rows, test_rows = order[:cut], order[cut:]
    else:
        raise ValueError(f"strategy must be 'random' or 'time', found {strategy!r}")
    in_test = np.zeros(count, dtype=bool)
    in_test[test_rows] = True
    shared = int(in_test[train_rows].sum())
    if shared:
        raise ValueError(f"train and test splits share {shared} rows")
    others = [column for column in frame.columns if column not in (*FEATURES, LABEL)]
    train_index, test_index = frame.index.take(train_rows), frame.index.take(test_rows)
    return Split(
        train_x=_rows(frame, list(FEATURES), train_rows, train_index),
        train_y=_column(frame, LABEL, train_rows, train_index),
        test_x=_rows(frame, list(FEATURES), test_rows, test_index),
        test_y=_column(frame, LABEL, test_rows, test_index),
        test_keys=_rows(frame, others, test_rows, test_index),
    )


def _rows(frame: pd.DataFrame, columns: list[str], rows: np.ndarray, index: pd.Index):
    """`columns` of `frame` at row positions `rows`, labelled with `index`, dtypes kept."""
    return pd.DataFrame({column: frame[column].array.take(rows) for column in columns}, index=index)


def _column(frame: pd.DataFrame, column: str, rows: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(frame[column].array.take(rows), index=index, name=column)


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


# What the fitted pipeline holds beyond sklearn's own classes, for skops (MLflow's format for
# sklearn models), which loads only the types it is told to trust: the imputer's fitted dtype
# and its median function.
SKOPS_TRUSTED_TYPES = ("numpy.dtype", "numpy.median")


def _pipeline(alpha: float, l1_ratio: float, random_state: int) -> Pipeline:
    return Pipeline(
        [
            # np.median over each column's present values: the same statistic as
            # strategy="median", which takes a masked-array median six times as long.
            ("impute", SimpleImputer(strategy=np.median)),
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
