"""The Dagster run tags this project reads and writes, named once."""

TAG_PREFIX = "training_assets"
TRIGGER_TAG = f"{TAG_PREFIX}/trigger"
# The data snapshot of a run: pinned by the request that made it (the new-data sensor), else by
# training_data when it starts reading.
ORDERS_VERSION_TAG = f"{TAG_PREFIX}/orders_version"
STATS_VERSION_TAG = f"{TAG_PREFIX}/driver_stats_version"
# Matched by the run queue's limit in dagster_home/dagster.yaml: one queued training at a time.
SERIAL_TAG = f"{TAG_PREFIX}/serial"
# Where a run's process lives, so that a run whose process died can be told from a slow one.
HOST_TAG = f"{TAG_PREFIX}/host"
PID_TAG = f"{TAG_PREFIX}/pid"
# Set on a run found dead: the new-data sensor requests its data again.
DIED_TAG = f"{TAG_PREFIX}/process_died"
# The tag on the MLflow run of a Dagster run, by which its step processes find it (the name
# dagster-mlflow gave it, so runs tracked before keep being found).
DAGSTER_RUN_TAG = "dagster_run_id"
# Who answers for the pipeline's assets, as the Dagster UI shows it ("team:<name>" or an email).
OWNERS = ["team:ml-platform"]
# The champion version a batch scoring run is for: pinned by the scoring sensor's request,
# else resolved when batch_predictions starts, and recorded either way.
CHAMPION_VERSION_TAG = f"{TAG_PREFIX}/champion_version"
# The challenger a batch scoring run scores in shadow, pinned and recorded the same way;
# NO_CHALLENGER when there was none (or it was the champion).
CHALLENGER_VERSION_TAG = f"{TAG_PREFIX}/challenger_version"
NO_CHALLENGER = "none"
# The champion the current one replaced, scored in shadow beside it: the same way, NO_CHALLENGER
# when there is none (the first champion, or one that came back by a rollback).
PREVIOUS_VERSION_TAG = f"{TAG_PREFIX}/previous_version"

# Dagster names the job of a launch from the asset graph ("Materialize all", a selection)
# `__ASSET_JOB`, and `materialize()`'s `__ephemeral_asset_job__`: its own names start so.
_IMPLICIT_JOB_PREFIX = "__"


def what_ran(job_name: str, asset_selection) -> str:
    """What a Dagster run ran, in words for other tools' records (the MLflow run's name, who
    moved an alias): the job's name, or for a launch from the asset graph, the assets it
    materialized, since Dagster's name for that job means nothing to a reader."""
    if not job_name.startswith(_IMPLICIT_JOB_PREFIX):
        return job_name
    names = sorted(key.to_user_string() for key in asset_selection or ())
    if not names:
        return "assets materialized from the asset graph"
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f"materialize {shown}"
