"""The code location: the assets, gates, automation and resources of `defs/`."""

import gc

# First, before Feast's, MLflow's and our own modules: when MLflow's sklearn format (skops) is
# first imported, it names each of scipy's ufuncs by searching sys.modules in import order for
# the module that holds it. With scipy.special among the first thousand modules rather than
# after three thousand, that search takes 0.5 s less in each process that logs or loads a model.
import scipy.special  # noqa: F401
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

# What was imported and built above lives as long as the process. Frozen, it is left out of the
# full garbage collections that the steps' allocations and imports trigger (about 1 s of a run
# on the sample), and out of the interpreter's last collections at exit (1.4 s more). Frozen
# objects are never freed; a collection just before this finds almost nothing to free (a few
# objects), so none is run. DuckDB is imported only after this (core/data/table_query.py): its
# bindings report as leaks any of their objects still alive at exit, as frozen ones would be.
gc.freeze()
