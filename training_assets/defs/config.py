"""Run config of the split and the model: the core settings, as Dagster config.

Every default can be overridden in run config (`dagster job execute -c run.yaml`, or the
launchpad in the UI); see config/example_run.yaml. The fields and their descriptions are
declared once, in the core settings classes.
"""

from dagster import Config

from training_assets.core.ml.elastic_net import ElasticNetSettings
from training_assets.core.ml.split import SplitSettings


class SplitConfig(Config, SplitSettings):
    """How the training table is split into train and test rows."""


class ModelConfig(Config, ElasticNetSettings):
    """ElasticNet hyperparameters."""
