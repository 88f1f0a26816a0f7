"""The model: ElasticNet behind median imputation and standard scaling, fit or searched."""

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
    alpha_grid: list[float] = Field(default=[0.01, 0.05, 0.1, 0.5, 1.0])
    l1_ratio_grid: list[float] = Field(default=[0.1, 0.5, 0.9])
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


def coefficients(model: Pipeline) -> dict[str, float]:
    """The fitted ElasticNet's coefficient per feature, on the scaled inputs."""
    names = map(str, model.feature_names_in_)
    return dict(zip(names, map(float, model.named_steps["regress"].coef_), strict=True))
