"""The ML steps as plain functions: assemble the table, split, fit and score.

Nothing here imports Dagster, Feast or MLflow; the assets wire these to storage and tracking.
"""

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from training_assets.schema import EVENT_TIMESTAMP, FEATURES, LABEL, TRAINING_COLUMNS

ORDER_POSITION = "__order_position"


class Split(NamedTuple):
    train_x: pd.DataFrame
    train_y: pd.Series
    test_x: pd.DataFrame
    test_y: pd.Series


def with_order_position(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders with a column recording each row's position, to restore order after a join."""
    return orders.assign(**{ORDER_POSITION: np.arange(len(orders), dtype=np.int64)})


def as_training_table(joined: pd.DataFrame) -> pd.DataFrame:
    """The joined frame back in input order, without the position column.

    Columns the schema knows come first, in schema order. Anything else is kept after them,
    so that the schema gates report it instead of it vanishing here.
    """
    table = joined.sort_values(ORDER_POSITION, kind="stable").drop(columns=ORDER_POSITION)
    if EVENT_TIMESTAMP in table and pd.api.types.is_datetime64_any_dtype(table[EVENT_TIMESTAMP]):
        # Naive times are UTC, as Feast reads them.
        table[EVENT_TIMESTAMP] = pd.to_datetime(table[EVENT_TIMESTAMP], utc=True).astype(
            "datetime64[ns, UTC]"
        )
    known = [column for column in TRAINING_COLUMNS if column in table.columns]
    extra = [column for column in table.columns if column not in TRAINING_COLUMNS]
    return table[known + extra].reset_index(drop=True)


def split_frame(frame: pd.DataFrame, test_size: float, random_seed: int) -> Split:
    """A seeded random train/test split with only the feature columns in X.

    Args:
        frame: The training table.
        test_size: Share of rows held out for the test split, in (0, 1).
        random_seed: Seed of the shuffle; the same seed gives the same split.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), found {test_size}")
    train, test = train_test_split(frame, test_size=test_size, random_state=random_seed)
    return Split(
        train_x=train[list(FEATURES)],
        train_y=train[LABEL],
        test_x=test[list(FEATURES)],
        test_y=test[LABEL],
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
    model = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("regress", ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=random_state)),
        ]
    )
    return model.fit(train_x, train_y)


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
