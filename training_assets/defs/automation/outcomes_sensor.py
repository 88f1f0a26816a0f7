"""The outcomes sensor: new labels re-open the days of predictions they may label, and new
predictions open their own day.

A sensor, not an automation condition: the window is counted back from the newest order's day,
the labels' own time, where a condition's latest time window counts back from today; and a day
is only worth a run when something was logged for it.
"""

import json
from datetime import UTC, date, datetime

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
)

from training_assets.core.data import locations, orders
from training_assets.core.monitoring import days
from training_assets.core.schema import EVENT_TIMESTAMP
from training_assets.defs.instance_reads import retried
from training_assets.defs.resources.monitoring import MonitoringSettings
from training_assets.defs.resources.orders import OrdersSource
from training_assets.defs.resources.prediction_log import PredictionLogResource
from training_assets.defs.tags import TAG_PREFIX, TRIGGER_TAG

BATCH_PREDICTIONS = AssetKey("batch_predictions")


def evaluate_outcomes_sensor(
    context: SensorEvaluationContext,
    orders_source: OrdersSource,
    prediction_log: PredictionLogResource,
    monitoring: MonitoringSettings,
):
    """Requests live_quality_job for each day that new batch predictions were stored for, and,
    when the orders settle in a new content, for each day of the orders in new or changed files
    that lies in the lookback window before the newest order and has logged predictions. The
    run key is the day, the orders' digest and the latest predictions seen, so the same day is
    never judged twice on the same data."""
    state = json.loads(context.cursor) if context.cursor else {}
    scored_days, batch_cursor = _newly_scored_days(context, state.get("batch_cursor"))
    state["batch_cursor"] = batch_cursor
    try:
        listed = orders_source.listed()
    except (orders.OrdersError, locations.LocationError) as error:
        context.update_cursor(json.dumps(state))
        return SkipReason(str(error))
    labelled_days: list[date] = []
    if listed.paths and listed.states != state.get("hashed"):
        if listed.states != state.get("seen"):
            state["seen"] = listed.states
        else:
            labelled_days, newest = _labelled_days(listed, state, prediction_log, monitoring)
            state |= {"hashed": listed.states, "orders": listed.digest, "newest": newest}
    context.update_cursor(json.dumps(state))
    wanted = sorted({*scored_days, *labelled_days})
    if not wanted:
        return SkipReason("no new labels or predictions since the last check")
    context.log.info(
        f"Outcomes of {[str(day) for day in wanted]}: new predictions on "
        f"{[str(day) for day in scored_days]}, labels within {monitoring.lookback_days} days "
        f"on {[str(day) for day in labelled_days]}"
    )
    version = (state.get("orders") or "none")[:12]
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"outcomes-{day}-orders-{version}-scored-{batch_cursor}",
                partition_key=str(day),
                tags={TRIGGER_TAG: "outcomes", f"{TAG_PREFIX}/orders_version": version},
            )
            for day in wanted
        ]
    )


def _labelled_days(
    listed,
    state: dict,
    prediction_log: PredictionLogResource,
    monitoring: MonitoringSettings,
) -> tuple[list[date], str | None]:
    """The days of the orders in new or changed files that lie within the lookback window
    ending on the newest order's day, and that have logged predictions; and that newest day.
    Only the new or changed files are read: the newest day of the others is the cursor's."""
    hashed = state.get("hashed") or {}
    changed = [
        path for path in listed.paths if listed.states.get(str(path)) != hashed.get(str(path))
    ]
    touched = set()
    for path in changed:
        touched |= set(days.event_days(orders.read_orders(path)[EVENT_TIMESTAMP]))
    known = [date.fromisoformat(state["newest"])] if state.get("newest") else []
    if not touched:
        return [], state.get("newest")
    newest = max([*touched, *known])
    window = set(days.lookback(newest, monitoring.lookback_days))
    sink, today = prediction_log.sink(), datetime.now(UTC).date()
    found = sorted(
        day
        for day in touched & window
        # One narrow column is enough to know a day was logged, not its features.
        if days.FIRST_DAY <= day <= today and sink.read(day, ["sequence"]).num_rows
    )
    return found, newest.isoformat()


def _newly_scored_days(
    context: SensorEvaluationContext, after: int | None
) -> tuple[list[date], int | None]:
    """The days of batch_predictions materialized since the storage id `after` (all of them
    the first time), and the newest storage id seen."""
    records = retried(
        lambda: (
            context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=BATCH_PREDICTIONS, after_storage_id=after),
                limit=10_000,
                ascending=True,
            ).records
        ),
        "batch_predictions' new materializations",
    )
    found = {date.fromisoformat(r.partition_key) for r in records if r.partition_key}
    newest = records[-1].storage_id if records else after
    return sorted(found), newest
