"""The gate thresholds and the drift sensor's settings, as resources that run config can set.

Whether the two switched gates (core/gates/catalog.py `SWITCHED`) block is part of their
checks' definitions, which the UI shows ("blocking asset check") and Dagster acts on: so it is
set where definitions are, in the code location's environment, and read once when the code
location loads. Run config may repeat it, never change it.
"""

from functools import cache

from dagster import ConfigurableResource
from pydantic import Field, model_validator

from training_assets.core import settings
from training_assets.core.gates.catalog import SWITCHED
from training_assets.core.gates.limits import GateLimits

# Re-exported: where the tests and the run config check look for them.
from training_assets.core.settings import SWITCH_ENV
from training_assets.core.settings import blocking_switches as blocking_switches


@cache
def code_location_switches() -> dict[str, bool]:
    """The switches as the code location's environment sets them, read once, when the code
    location builds its check specs: a run compares its config with what the specs declare."""
    return settings.blocking_switches()


def code_location_limits() -> GateLimits:
    """The default thresholds with the code location's switches: what the checks declare."""
    return GateLimits(**code_location_switches())


class GateThresholds(ConfigurableResource, GateLimits):
    """Thresholds of the blocking data and model gates (fields: core/gates/limits.py)."""

    drift_blocks: bool | None = Field(
        default=None,
        description=(
            "Set by the code location's TRAINING_ASSETS_DRIFT_BLOCKS (whether drift beyond "
            "the blocking limits holds back registration, declared on the drift_within_limits "
            "check); run config may only repeat that value."
        ),
    )
    late_features_block: bool | None = Field(
        default=None,
        description=(
            "Set by the code location's TRAINING_ASSETS_LATE_FEATURES_BLOCK (whether orders "
            "joined with rows written after them hold back registration, declared on the "
            "features_created_before_order check); run config may only repeat that value."
        ),
    )

    @model_validator(mode="after")
    def _switches_are_the_code_locations(self):
        for field, variable in SWITCH_ENV.items():
            value, declared = getattr(self, field), code_location_switches()[field]
            if value is not None and value != declared:
                gate = next(name for name, switch in SWITCHED.items() if switch == field)
                raise ValueError(
                    f"resources.gates.config.{field} is {str(value).lower()} in run config, "
                    f"but this code location declares {gate} "
                    f"{'blocking' if declared else 'non-blocking'} ({variable} is "
                    f"{'on' if declared else 'unset or off'}): whether a check blocks is part "
                    f"of its definition. Set {variable}={'1' if value else '0'} in the code "
                    f"location's environment and reload it, and leave {field} out of run config"
                )
        return self

    def limits(self) -> GateLimits:
        """The thresholds as the core gates take them, with the code location's switches."""
        return GateLimits(**{**self.model_dump(), **code_location_switches()})


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
