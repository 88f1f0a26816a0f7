"""The model: ElasticNet behind median imputation and standard scaling, fit or searched."""

from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


class ElasticNetSettings(BaseModel):
    """ElasticNet hyperparameters, and an optional grid search over them."""

    alpha: float = Field(default=0.5, ge=0, description="Overall penalty strength.")
    l1_ratio: float = Field(default=0.1, ge=0, le=1, description="Share of L1 in the penalty.")
    random_state: int = Field(default=17, description="Seed for the coordinate descent.")
    search: bool = Field(
        default=False,
        description="Cross-validated grid search over alpha_grid x l1_ratio_grid; the best is "
        "fit on all training rows. Each candidate is logged as a nested MLflow run.",
    )
    alpha_grid: list[Annotated[float, Field(ge=0)]] = Field(
        default=[0.01, 0.05, 0.1, 0.5, 1.0], min_length=1, description="alphas the search tries."
    )
    l1_ratio_grid: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        default=[0.1, 0.5, 0.9], min_length=1, description="l1_ratios the search tries."
    )
    cv_folds: int = Field(default=3, ge=2, description="Folds of the search's cross-validation.")


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

    The pipeline fits on one float32 matrix built here (`fit_matrix`), which imputation,
    scaling and the solver work on in place, instead of a float64 copy per stage. Its stages
    are fit one after the other, as `Pipeline.fit` fits them, except that the scaler's
    statistics are gathered `_SCALER_ROWS` rows at a time: StandardScaler's one-pass fit
    makes NaN-free copies of the whole matrix (2 GB of transients at 80M rows), its
    chunked fit the same statistics from copies of one chunk.
    """
    model = _pipeline(alpha, l1_ratio, random_state, in_place=True)
    matrix = fit_matrix(train_x)
    imputed = model.named_steps["impute"].fit_transform(matrix)
    del matrix
    scaler = model.named_steps["scale"]
    for start in range(0, max(len(imputed), 1), _SCALER_ROWS):
        scaler.partial_fit(imputed[start : start + _SCALER_ROWS])
    scaled = scaler.transform(imputed)
    model.named_steps["regress"].fit(scaled, np.asarray(train_y, dtype=scaled.dtype))
    return _copying(model)


# Rows of the training matrix whose scaling statistics are gathered at a time.
_SCALER_ROWS = 1 << 22


def fit_matrix(train_x: pd.DataFrame) -> pd.DataFrame:
    """`train_x` as one column-major float32 block, nulls as NaN, with its names and index.

    Column-major is the layout ElasticNet's coordinate descent works in, and float32 is a
    dtype every stage keeps, so no stage copies it; the features are float32 in the feature
    view. Built column by column, it holds one matrix and no float64 copy of the table.
    """
    matrix = np.empty(train_x.shape, dtype=np.float32, order="F")
    for position, column in enumerate(train_x.columns):
        matrix[:, position] = train_x[column].to_numpy(dtype=np.float32, na_value=np.nan)
    return pd.DataFrame(matrix, columns=train_x.columns, index=train_x.index, copy=False)


def _copying(model: Pipeline) -> Pipeline:
    """The fitted pipeline set to copy its input again, so that predicting never writes into
    a caller's frame."""
    return model.set_params(impute__copy=True, scale__copy=True)


# What the fitted pipeline holds beyond sklearn's own classes, for skops (MLflow's format for
# sklearn models), which loads only the types it is told to trust: the imputer's fitted dtype
# and its median function.
SKOPS_TRUSTED_TYPES = ("numpy.dtype", "numpy.median")


def _pipeline(alpha: float, l1_ratio: float, random_state: int, in_place: bool) -> Pipeline:
    """The model; with `in_place`, each stage overwrites its input (a matrix built for the fit)
    instead of copying it."""
    return Pipeline(
        [
            # np.median over each column's present values: the same statistic as
            # strategy="median", which takes a masked-array median six times as long.
            ("impute", SimpleImputer(strategy=np.median, copy=not in_place)),
            ("scale", StandardScaler(copy=not in_place)),
            (
                "regress",
                ElasticNet(
                    alpha=alpha,
                    l1_ratio=l1_ratio,
                    random_state=random_state,
                    copy_X=not in_place,
                ),
            ),
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
        _pipeline(1.0, 0.5, random_state, in_place=True),
        param_grid={"regress__alpha": alphas, "regress__l1_ratio": l1_ratios},
        scoring="neg_root_mean_squared_error",
        cv=folds,
    )
    # Each fold is a copy of its rows, and the refit on all rows uses the matrix in place.
    search.fit(fit_matrix(train_x), train_y)
    results = search.cv_results_
    candidates = [
        {
            "alpha": float(params["regress__alpha"]),
            "l1_ratio": float(params["regress__l1_ratio"]),
            "cv_rmse": float(-score),
        }
        for params, score in zip(results["params"], results["mean_test_score"], strict=True)
    ]
    return _copying(search.best_estimator_), candidates


def coefficients(model: Pipeline) -> dict[str, float]:
    """The fitted ElasticNet's coefficient per feature, on the scaled inputs."""
    names = map(str, model.feature_names_in_)
    return dict(zip(names, map(float, model.named_steps["regress"].coef_), strict=True))
