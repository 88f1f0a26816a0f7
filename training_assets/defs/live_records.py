"""The days' live quality as recorded: the metadata of each day's latest `live_model_quality`
materialization, where the live gates' verdicts and figures are kept beside the quality they
judge. Read by the live sensors (what to act on) and by the model report (the champion's
series)."""

from dagster import AssetKey, DagsterInstance

from training_assets.defs.instance_reads import retried

LIVE_MODEL_QUALITY = AssetKey("live_model_quality")
# The days of live quality searched: the latest materializations, newest first.
SEARCHED_DAYS = 400
# When a day's latest judgement was recorded (a Unix timestamp), beside its metadata.
RECORDED_AT = "_recorded_at"


def latest_by_day(instance: DagsterInstance) -> dict[str, dict]:
    """The metadata of each day's latest live_model_quality, among the latest SEARCHED_DAYS
    materializations, by day, with when it was recorded under RECORDED_AT."""
    records = retried(
        lambda: instance.fetch_materializations(LIVE_MODEL_QUALITY, limit=SEARCHED_DAYS).records,
        "live_model_quality's materializations",
    )
    days: dict[str, dict] = {}
    for record in records:  # newest first: a day's latest judgement is its first
        if record.partition_key and record.partition_key not in days:
            days[record.partition_key] = {
                **metadata_values(record),
                RECORDED_AT: record.timestamp,
            }
    return days


def metadata_values(record) -> dict:
    """A materialization's metadata as plain values."""
    return {key: entry.value for key, entry in record.asset_materialization.metadata.items()}
