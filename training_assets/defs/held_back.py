"""What a run whose gates rejected the model records on the assets they held back.

A failed blocking check fails its step; Dagster skips what is downstream, the run fails (so
`dagster job execute` exits non-zero), and the UI marks every asset the run planned and did
not materialize "Failed", with no reason: `registered_model_version` and `champion_model`
look broken while the champion in production is fine. So, once the steps are over, the run
records on each asset it held back an observation saying what happened: which gates held it
back, that nothing was registered, and the champion that stays in production. It shows on the
asset's page and in its events, beside the run that failed.

Why an observation: Dagster's own event for an expected non-materialization
(ASSET_FAILED_TO_MATERIALIZE of type SKIPPED) is dropped by the open-source instance's event
storage (`can_store_asset_failure_events` is False for sqlite and PostgreSQL in Dagster 1.13),
and the asset graph's "Failed" comes from the latest run that planned the asset having failed,
which a gate's rejection must do. An observation carries no data version, so nothing
downstream is marked stale by it.

Only a run whose every failed step is a gate (a blocking check that failed at ERROR) records
this: when anything else failed too, what it skipped did fail, and is left to say so.
"""

import logging

from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetObservation,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    MetadataValue,
)

from training_assets.core.gates.catalog import DRIFT_GATE
from training_assets.defs.dagster_internals import observation_event
from training_assets.defs.instance_reads import retried

OUTCOME = "held back by gates"
REGISTRATION = "registered_model_version"
# What Dagster raises in a step whose blocking checks failed at ERROR severity.
_GATES_FAILED = "DagsterAssetCheckFailedError"
_READ = {
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.STEP_FAILURE,
}


def held_back(instance: DagsterInstance, run_id: str) -> list[AssetObservation]:
    """An observation of each asset that the run planned and that its failed gates held back,
    sorted by asset; none when no gate failed or another step failed."""
    records = retried(lambda: instance.all_logs(run_id, of_type=_READ), "this run's events")
    events = [record.dagster_event for record in records if record.dagster_event]
    failures = [e for e in events if e.event_type == DagsterEventType.STEP_FAILURE]
    if not failures or any(_error_class(e) != _GATES_FAILED for e in failures):
        return []
    evaluations = [
        e.event_specific_data
        for e in events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    gates = sorted(
        {
            e.check_name
            for e in evaluations
            if not e.passed and e.blocking and e.severity == AssetCheckSeverity.ERROR
        }
    )
    planned = {e.asset_key for e in events if e.is_asset_materialization_planned}
    materialized = {e.asset_key for e in events if e.is_step_materialization}
    champion = _champion_version(evaluations)
    description = f"Not materialized in this run: {OUTCOME} ({', '.join(gates)} failed)."
    if AssetKey(REGISTRATION) not in materialized:
        description += " Nothing was registered; " + (
            "there is no champion yet."
            if champion is None
            else f"the production champion is unchanged: version {champion}."
        )
    metadata = {
        "outcome": OUTCOME,
        "reason": MetadataValue.text(description),
        "held_back_by": MetadataValue.json(gates),
        "champion_version": (
            MetadataValue.text("none yet") if champion is None else MetadataValue.int(champion)
        ),
    }
    return [
        AssetObservation(asset_key=key, description=description, metadata=metadata)
        for key in sorted(planned - materialized, key=AssetKey.to_user_string)
    ]


def record_held_back(instance: DagsterInstance, run_id: str, job_name: str) -> None:
    """Record `held_back`'s events in the run's event log."""
    for observation in held_back(instance, run_id):
        event = observation_event(job_name, observation)
        # Told twice after a lost connection is better than not told.
        retried(
            lambda event=event: instance.report_dagster_event(
                event, run_id=run_id, log_level=logging.WARNING
            ),
            "recording a held-back asset",
        )


def _error_class(step_failure: DagsterEvent) -> str | None:
    error = step_failure.step_failure_data.error
    return None if error is None else error.cls_name


def _champion_version(evaluations) -> int | None:
    """The champion this run was judged against, as the drift gate recorded it."""
    for evaluation in evaluations:
        if evaluation.check_name == DRIFT_GATE.name and "champion_version" in evaluation.metadata:
            return int(evaluation.metadata["champion_version"].value)
    return None
