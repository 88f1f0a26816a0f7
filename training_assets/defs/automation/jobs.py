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

# Moving the champion by hand: launched from the UI's Jobs page (the launchpad shows the
# config to fill in: the version, default the challenger, and why) or the CLI.
promote_model_job = define_asset_job(
    name="promote_model_job",
    selection=AssetSelection.assets("champion_model"),
    description="Move @champion to the challenger (or the version given), recording who and why.",
    config={"ops": {"champion_model": {"config": {"action": "promote", "reason": ""}}}},
    tags={SERIAL_TAG: "training"},
)
rollback_model_job = define_asset_job(
    name="rollback_model_job",
    selection=AssetSelection.assets("champion_model"),
    description="Move @champion back to the champion before the current one, recording why.",
    config={"ops": {"champion_model": {"config": {"action": "rollback", "reason": ""}}}},
    tags={SERIAL_TAG: "training"},
)

batch_predictions_job = define_asset_job(
    name="batch_predictions_job",
    selection=AssetSelection.assets("batch_predictions"),
    description="Score the batch request files with @champion and Feast's point-in-time features.",
)

# A day's outcomes and live quality, with the live gates: requested by the outcomes sensor for
# the days new labels or new predictions reach, or launched for a day from the UI.
live_quality_job = define_asset_job(
    name="live_quality_job",
    selection=AssetSelection.assets("prediction_outcomes", "live_model_quality"),
    description="Join a day's logged predictions with the labels that arrived and judge them.",
)
