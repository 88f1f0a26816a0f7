"""Jobs over the training graph."""

from dagster import AssetSelection, define_asset_job

from training_assets.defs.tags import SERIAL_TAG

# The gates and the registration run in one job: blocking checks only hold back downstream
# assets within the same run. The executor is the code location's (defs/executors.py): in
# process by default, since each step process would otherwise pay seconds of imports.
training_job = define_asset_job(
    name="training_job",
    selection=AssetSelection.groups("training").materializable(),
    description="Apply the feature repo, build the training table, train, gate and register.",
    # One queued training at a time (dagster_home/dagster.yaml); run monitoring fails a run
    # still going after four hours.
    tags={SERIAL_TAG: "training", "dagster/max_runtime": str(4 * 3600)},
)
