"""The materialization of an asset that a run reads: its own, else the latest.

Two runs can be in progress at once, so "the latest materialization" may be another run's.
A run that materialized an asset itself reads its own; only an asset it did not materialize
comes from the latest run that did.
"""

from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance, EventLogEntry

from training_assets.defs.instance_reads import retried


def materialization_for(
    instance: DagsterInstance, run_id: str, key: AssetKey, partition: str | None = None
) -> EventLogEntry | None:
    """The event of `key`'s materialization in run `run_id`, else its latest, else None; of
    its `partition` only, when given (each day of a partitioned asset has its own run)."""
    records = retried(
        lambda: (
            instance.get_records_for_run(
                run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
            ).records
        ),
        f"run {run_id}'s materializations",
    )
    own = [
        record.event_log_entry
        for record in records
        if record.event_log_entry.dagster_event is not None
        and record.event_log_entry.dagster_event.asset_key == key
        and (partition is None or record.event_log_entry.dagster_event.partition == partition)
    ]
    if own:
        return own[-1]
    if partition is not None:
        latest = retried(
            lambda: (
                instance.fetch_materializations(
                    AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
                ).records
            ),
            f"{key.to_user_string()} {partition}'s latest materialization",
        )
        return latest[0].event_log_entry if latest else None
    return retried(
        lambda: instance.get_latest_materialization_event(key),
        f"{key.to_user_string()}'s latest materialization",
    )
