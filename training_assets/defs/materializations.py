"""The materialization of an asset that a run reads: its own, else the latest.

Two runs can be in progress at once, so "the latest materialization" may be another run's.
A run that materialized an asset itself reads its own; only an asset it did not materialize
comes from the latest run that did.
"""

from dagster import AssetKey, DagsterEventType, DagsterInstance, EventLogEntry

from training_assets.defs.instance_reads import retried


def materialization_for(
    instance: DagsterInstance, run_id: str, key: AssetKey
) -> EventLogEntry | None:
    """The event of `key`'s materialization in run `run_id`, else its latest, else None."""
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
    ]
    if own:
        return own[-1]
    return retried(
        lambda: instance.get_latest_materialization_event(key),
        f"{key.to_user_string()}'s latest materialization",
    )
