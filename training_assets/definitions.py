"""The code location: the assets, gates, automation and resources of `defs/`."""

from dagster import (
    Definitions,
    load_asset_checks_from_package_module,
    load_assets_from_package_module,
)

from training_assets.core.data import storage
from training_assets.defs import assets, checks
from training_assets.defs.automation.jobs import (
    batch_predictions_job,
    promote_model_job,
    rollback_model_job,
    training_job,
)
from training_assets.defs.automation.schedules import weekly_training_schedule
from training_assets.defs.automation.sensors import (
    batch_scoring_sensor,
    dead_run_sensor,
    drift_retrain_sensor,
    new_training_data_sensor,
)
from training_assets.defs.executors import training_executor
from training_assets.defs.resources import embedded_defaults

# Before any step allocates: memory a step frees goes back to the system, not to the next step.
storage.use_system_allocator()

defs = Definitions(
    assets=load_assets_from_package_module(assets),
    asset_checks=load_asset_checks_from_package_module(checks),
    jobs=[training_job, promote_model_job, rollback_model_job, batch_predictions_job],
    sensors=[
        new_training_data_sensor,
        drift_retrain_sensor,
        dead_run_sensor,
        batch_scoring_sensor,
    ],
    schedules=[weekly_training_schedule],
    resources=embedded_defaults(),
    # In process unless the deployment or run config chooses otherwise (defs/executors.py);
    # training_job and materializations started from the UI take the same executor.
    executor=training_executor(),
)
