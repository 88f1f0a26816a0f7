"""The pieces of Dagster's private API the code location uses, each in one place.

Dagster 1.13 has no public name for any of them; an upgrade that moves them fails on import here.

- `DATA_VERSION_TAG`: the tag that carries an observation's data version. A sensor records the
  orders' and the feature file's content hashes as the data versions of those source assets, and
  `AssetObservation` takes the version only as this tag (`ObserveResult(data_version=...)`, the
  public way, exists only inside an observable source asset's own run).
- `observation_event`: an observation recorded on a run that is still going (the held-back
  assets, defs/held_back.py). `DagsterInstance.report_runless_asset_event` is public but, as its
  name says, records the event on no run, and the observation must show in the run's log.
- `ASSET_PARTITION_RANGE_START_TAG`, `..._END_TAG`: the tags of a run over a range of
  partitions, as a single-run backfill launches it. A sensor's `RunRequest` takes one
  `partition_key` only, and the batch scoring sensor asks for every day its files cover in one
  run.
"""

from dagster import AssetObservation, DagsterEvent, DagsterEventType
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.events import AssetObservationData
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "DATA_VERSION_TAG",
    "observation_event",
]


def observation_event(job_name: str, observation: AssetObservation) -> DagsterEvent:
    """`observation` as an event of a run of `job_name`, for the instance's
    `report_dagster_event`."""
    return DagsterEvent(
        event_type_value=DagsterEventType.ASSET_OBSERVATION.value,
        job_name=job_name,
        event_specific_data=AssetObservationData(observation),
        message=f"{observation.asset_key.to_user_string()}: {observation.description}",
    )
