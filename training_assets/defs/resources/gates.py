"""The gate thresholds and the drift sensor's settings, as resources that run config can set.

Whether the two switched gates (core/gates/catalog.py `SWITCHED`) block is part of their
checks' definitions, which the UI shows ("blocking asset check") and Dagster acts on: so it is
set where definitions are, in the code location's environment, and read once when the code
location loads. Run config may repeat it, never change it.
"""

import os

from dagster import ConfigurableResource
from pydantic import Field, model_validator

from training_assets.core.gates.catalog import SWITCHED
from training_assets.core.gates.limits import GateLimits

# The environment variable that switches on each switched gate's blocking, by GateLimits field.
SWITCH_ENV = {
    "drift_blocks": "TRAINING_ASSETS_DRIFT_BLOCKS",
    "late_features_block": "TRAINING_ASSETS_LATE_FEATURES_BLOCK",
}
_ON, _OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def blocking_switches(environ=os.environ) -> dict[str, bool]:
    """Each switch of SWITCH_ENV as the environment sets it; unset is off.

    Raises:
        ValueError: naming the variable, the value found and the values accepted.
    """
    switches = {}
    for field, variable in SWITCH_ENV.items():
        raw = environ.get(variable, "").strip().lower()
        if raw not in _ON + _OFF:
            raise ValueError(
                f"{variable}={environ[variable]!r}: expected 1/true/yes/on or 0/false/no/off"
            )
        switches[field] = raw in _ON
    return switches


# Read when the code location loads: the check specs are built from these.
SWITCHES = blocking_switches()


def code_location_limits() -> GateLimits:
    """The default thresholds with the code location's switches: what the checks declare."""
    return GateLimits(**SWITCHES)


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
            value, declared = getattr(self, field), SWITCHES[field]
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
        return GateLimits(**{**self.model_dump(), **SWITCHES})


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
