"""The gate thresholds and the drift sensor's settings, as resources that run config can set."""

from dagster import ConfigurableResource
from pydantic import Field

from training_assets.core.gates.limits import GateLimits


class GateThresholds(ConfigurableResource, GateLimits):
    """Thresholds of the blocking data and model gates (fields: core/gates/limits.py)."""

    def limits(self) -> GateLimits:
        """The thresholds as the core gates take them."""
        return GateLimits(**self.model_dump())


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
