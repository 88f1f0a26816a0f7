"""Typed run config for the training steps and the gate thresholds.

Every default here can be overridden in run config (`dagster job execute -c run.yaml`, or the
launchpad in the UI); see config/example_run.yaml.
"""

import os

from dagster import Config, ConfigurableResource
from pydantic import Field

DEFAULT_MODEL_NAME = "sklearn-elastic-net-reg"
CHAMPION_ALIAS = "champion"


class SplitConfig(Config):
    """How the training table is split into train and test rows."""

    test_size: float = Field(default=0.2, gt=0, lt=1, description="Share of rows held out.")
    random_seed: int = Field(default=17, description="Seed of the shuffle before the split.")


class ModelConfig(Config):
    """ElasticNet hyperparameters."""

    alpha: float = Field(default=0.5, ge=0, description="Overall penalty strength.")
    l1_ratio: float = Field(default=0.1, ge=0, le=1, description="Share of L1 in the penalty.")
    random_state: int = Field(default=17, description="Seed for the coordinate descent.")


class RegistryConfig(Config):
    """Where a model that passed every gate is registered."""

    model_name: str = Field(default=DEFAULT_MODEL_NAME, description="Registered model name.")
    alias: str = Field(
        default=CHAMPION_ALIAS, description="Alias moved to the new version after registration."
    )


class GateThresholds(ConfigurableResource):
    """Thresholds of the blocking data and model gates.

    The model defaults are calibrated on the sample data, whose label is a noisy 0/1: the mean
    predictor scores RMSE ≈ 0.50 and the default model ≈ 0.46, while a model fit to shuffled
    labels stays at ≈ 0.50 with no gain over the baseline. So the sample registers a model and
    a model that learned nothing does not.
    """

    max_feature_null_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Highest share of rows on which a feature may be null (no stats in force).",
    )
    min_rows: int = Field(
        default=1000, ge=1, description="Fewest rows the training table may have."
    )
    rmse_ceiling: float = Field(default=0.48, gt=0, description="Highest test RMSE registered.")
    mae_ceiling: float = Field(default=0.48, gt=0, description="Highest test MAE registered.")
    min_improvement_over_baseline: float = Field(
        default=0.03,
        description="Least relative RMSE gain over predicting the training mean, e.g. 0.03 = 3%.",
    )


class DriftSettings(ConfigurableResource):
    """What the drift sensor compares and when it calls a shift significant."""

    psi_threshold: float = Field(
        default=0.2,
        gt=0,
        description="Retrain when any feature's PSI exceeds this; 0.2 is the usual 'significant'.",
    )
    window_hours: int = Field(
        default=24, ge=1, description="The latest orders window: hours before the newest order."
    )
    min_rows: int = Field(
        default=200, ge=1, description="Fewest orders in the window for a meaningful comparison."
    )
    model_name: str = Field(default=DEFAULT_MODEL_NAME, description="Registered model to watch.")
    alias: str = Field(default=CHAMPION_ALIAS, description="Alias of the model in production.")


def interval_seconds(variable: str, default: int) -> int:
    """A sensor's tick interval from the environment of the code location, in seconds.

    Intervals are part of a sensor's definition, so they are read when the code location loads.
    """
    raw = os.environ.get(variable, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{variable} must be a positive whole number of seconds, found {raw!r}")
    return int(raw)
