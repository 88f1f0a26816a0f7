"""The code location: the assets, gates, automation and resources of `defs/`.

Importing it builds the definitions and does nothing else to the process: no allocator, no
garbage-collector or import-order settings (the run worker applies its own, see
defs/process_tuning.py).
"""

from dagster import (
    Definitions,
    load_asset_checks_from_package_module,
    load_assets_from_package_module,
)

from training_assets.defs import assets, checks
from training_assets.defs.automation.jobs import (
    batch_predictions_job,
    live_quality_job,
    promote_model_job,
    rollback_model_job,
    training_job,
)
from training_assets.defs.automation.schedules import weekly_training_schedule
from training_assets.defs.automation.sensors import code_location_sensors
from training_assets.defs.executors import training_executor
from training_assets.defs.resources import embedded_defaults


def build_definitions() -> Definitions:
    """The code location's definitions, with the resources the environment sets now."""
    return Definitions(
        assets=load_assets_from_package_module(assets),
        asset_checks=load_asset_checks_from_package_module(checks),
        jobs=[
            training_job,
            promote_model_job,
            rollback_model_job,
            batch_predictions_job,
            live_quality_job,
        ],
        sensors=code_location_sensors(),
        schedules=[weekly_training_schedule],
        resources=embedded_defaults(),
        # In process unless the deployment or run config chooses otherwise (defs/executors.py);
        # training_job and materializations started from the UI take the same executor.
        executor=training_executor(),
    )


defs = build_definitions()
