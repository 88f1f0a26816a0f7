"""The days' live quality as recorded: the metadata of each day's latest `live_model_quality`
materialization, where the live gates' verdicts and figures are kept beside the quality they
judge. Read by the live sensors (what to act on) and by the model report (the champion's
series)."""

from dagster import AssetKey, DagsterInstance

from training_assets.defs.instance_reads import retried

LIVE_MODEL_QUALITY = AssetKey("live_model_quality")
# The days of live quality searched, newest judgement first: a day judged again and again as
# its labels arrive has many materializations, so they are read page by page until this many
# days are found (or MAX_RECORDS materializations were read).
SEARCHED_DAYS = 400
PAGE = 1000
MAX_RECORDS = 20_000
# When a day's latest judgement was recorded (a Unix timestamp), beside its metadata.
RECORDED_AT = "_recorded_at"


def latest_by_day(instance: DagsterInstance) -> dict[str, dict]:
    """The metadata of each of the latest SEARCHED_DAYS days' latest live_model_quality, by
    day, with when it was recorded under RECORDED_AT."""
    days: dict[str, dict] = {}
    cursor, read = None, 0
    while len(days) < SEARCHED_DAYS and read < MAX_RECORDS:
        page = retried(
            lambda cursor=cursor: instance.fetch_materializations(
                LIVE_MODEL_QUALITY, limit=PAGE, cursor=cursor
            ),
            "live_model_quality's materializations",
        )
        for record in page.records:  # newest first: a day's latest judgement is its first
            if record.partition_key and record.partition_key not in days:
                days[record.partition_key] = {
                    **metadata_values(record),
                    RECORDED_AT: record.timestamp,
                }
        read += len(page.records)
        if not page.has_more:
            break
        cursor = page.cursor
    return days


def metadata_values(record) -> dict:
    """A materialization's metadata as plain values."""
    return {key: entry.value for key, entry in record.asset_materialization.metadata.items()}
