"""How far back new labels re-open the days of logged predictions."""

from dagster import ConfigurableResource
from pydantic import Field


class MonitoringSettings(ConfigurableResource):
    """The outcomes sensor's window: labels join predictions of up to this many days back."""

    lookback_days: int = Field(
        default=7,
        ge=1,
        description=(
            "When the orders change, the outcomes and live quality of the days up to this many "
            "back from the newest order's day (that have logged predictions) are made again: "
            "labels that arrive later than this never join their predictions automatically "
            "(a day can still be rematerialized by hand)."
        ),
    )
