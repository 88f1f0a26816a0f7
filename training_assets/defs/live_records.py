"""The days' live quality as recorded: the metadata of each day's latest `live_model_quality`
materialization, where the live gates' verdicts and figures are kept beside the quality they
judge. Read by the live sensors (what to act on) and by the model report (the champion's
series)."""

from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance

from training_assets.defs.instance_reads import retried

LIVE_MODEL_QUALITY = AssetKey("live_model_quality")
# The days of live quality read: the latest judged.
SEARCHED_DAYS = 400


def latest_by_day(instance: DagsterInstance) -> dict[str, dict]:
    """The metadata of each of the latest SEARCHED_DAYS days' latest live_model_quality, by
    day: a day judged again and again as its labels arrive counts once."""
    latest = retried(
        lambda: instance.get_latest_storage_id_by_partition(
            LIVE_MODEL_QUALITY, DagsterEventType.ASSET_MATERIALIZATION
        ),
        "live_model_quality's latest materialization per day",
    )
    wanted = sorted(latest.values(), reverse=True)[:SEARCHED_DAYS]
    if not wanted:
        return {}
    records = retried(
        lambda: (
            instance.fetch_materializations(
                AssetRecordsFilter(asset_key=LIVE_MODEL_QUALITY, storage_ids=wanted),
                limit=len(wanted),
            ).records
        ),
        "live_model_quality's materializations",
    )
    return {record.partition_key: metadata_values(record) for record in records}


def metadata_values(record) -> dict:
    """A materialization's metadata as plain values."""
    return {key: entry.value for key, entry in record.asset_materialization.metadata.items()}
