"""Typed run config for the training steps and the gate thresholds.

Every default here can be overridden in run config (`dagster job execute -c run.yaml`, or the
launchpad in the UI); see config/example_run.yaml.
"""

from dagster import Config, ConfigurableResource
from pydantic import Field


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

    model_name: str = Field(
        default="sklearn-elastic-net-reg", description="Registered model name in MLflow."
    )
    alias: str = Field(
        default="champion", description="Alias moved to the new version after registration."
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
