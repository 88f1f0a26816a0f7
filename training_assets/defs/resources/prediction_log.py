"""Where predictions are logged: a resource so that run config and the deployment can move
the log; which sink serves a location is core/monitoring/sinks.py's choice."""

from dagster import ConfigurableResource
from pydantic import Field

from training_assets.core.monitoring.prediction_log import PredictionSink
from training_assets.core.monitoring.sinks import prediction_sink


class PredictionLogResource(ConfigurableResource):
    """The prediction log that batch scoring and the online server write and the outcomes
    read."""

    location: str | None = Field(
        default=None,
        description=(
            "Where the prediction log lives: a PostgreSQL URL (the production profile's "
            "table, as the online server writes it) or a local folder of parquet files by "
            "event day. Default: TRAINING_ASSETS_PREDICTION_LOG_URL, else "
            "<working area>/predictions/."
        ),
    )

    def sink(self) -> PredictionSink:
        return prediction_sink(self.location)
