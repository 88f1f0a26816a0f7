"""Sensors that retrain without a click: on new data, and on feature drift."""

import json
from collections.abc import Callable

import pandas as pd
from dagster import (
    AssetKey,
    AssetObservation,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from training_assets.core import settings
from training_assets.core.data import fingerprints, locations, orders, point_in_time
from training_assets.core.ml import drift
from training_assets.core.monitoring import days
from training_assets.core.monitoring.prediction_log import CHALLENGER
from training_assets.core.schema import EVENT_TIMESTAMP
from training_assets.core.tracking import registry
from training_assets.core.tracking.lineage import DATA_DIGEST_KEY, LINEAGE_PREFIX
from training_assets.core.tracking.profiles import reference_profile
from training_assets.defs import healing
from training_assets.defs.assets.batch_predictions import shadow_tags, shadow_versions
from training_assets.defs.automation.jobs import (
    batch_predictions_job,
    live_quality_job,
    promote_model_job,
    rollback_model_job,
    training_job,
)
from training_assets.defs.automation.live_actions import (
    evaluate_live_retrain_sensor,
    evaluate_live_rollback_sensor,
    evaluate_shadow_promotion_sensor,
)
from training_assets.defs.automation.outcomes_sensor import evaluate_outcomes_sensor
from training_assets.defs.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    DATA_VERSION_TAG,
)
from training_assets.defs.instance_reads import retried
from training_assets.defs.resources.batch_requests import BatchRequests
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.gates import DriftSettings
from training_assets.defs.resources.mlflow import (
    MlflowStore,
    ModelRegistry,
)
from training_assets.defs.resources.orders import OrdersSource
from training_assets.defs.tags import (
    CHAMPION_VERSION_TAG,
    DIED_TAG,
    NO_CHALLENGER,
    ORDERS_VERSION_TAG,
    STATS_VERSION_TAG,
    TAG_PREFIX,
    TRIGGER_TAG,
)


def _new_training_data_sensor(
    context: SensorEvaluationContext, orders_source: OrdersSource, feast: FeastResource
):
    """Requests one training run per new content of the orders and the feature file.

    The cursor keeps the files' last seen signatures, the signatures last hashed and the digest
    last requested. Files are hashed only once they held still for a whole tick, and the run
    key is their combined digest, so the same data never trains twice, across restarts too.
    """
    state = json.loads(context.cursor) if context.cursor else {}
    try:
        order_files = orders_source.listed()
        stats_path = feast.resolved_driver_stats_path()
    except (orders.OrdersError, locations.LocationError) as error:
        return SkipReason(str(error))
    if not order_files.paths:
        return SkipReason(f"no orders files in {order_files.shown} yet")
    if not stats_path.exists():
        return SkipReason(f"feature file {stats_path} does not exist")
    stats_files = feast.driver_stats_listed()

    current = {**order_files.states, **stats_files.states}
    if current == state.get("hashed"):
        return SkipReason("no new data since the last check")
    if current != state.get("seen"):
        context.update_cursor(json.dumps({**state, "seen": current}))
        return SkipReason("files changed since the last tick; waiting for them to settle")

    versions = {"orders": order_files.digest, "driver_stats_source": stats_files.digest}
    digest = orders_source.training_digest(versions["orders"], versions["driver_stats_source"])
    observed = state.get("versions", {})
    observations = [
        AssetObservation(asset_key=key, tags={DATA_VERSION_TAG: version})
        for key, version in versions.items()
        if observed.get(key) != version
    ]
    cursor = json.dumps({**state, "hashed": current, "versions": versions, "digest": digest})

    if digest in (state.get("digest"), _last_trained_digest(context)):
        died = _died_on(context, versions)
        if died is None:
            return SensorResult(
                skip_reason=f"already trained on this data ({digest[:12]})",
                asset_events=observations,
                cursor=cursor,
            )
        # Its last run lost its process: ask again, under a key of its own.
        context.log.info(f"Run {died} on data {digest[:12]} died; requesting the data again")
        digest = f"{digest}:after:{died}"
    context.log.info(
        f"New data {digest[:12]}: orders {versions['orders'][:12]}, "
        f"driver stats {versions['driver_stats_source'][:12]}"
    )
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=digest,
                tags={
                    TRIGGER_TAG: "new_data",
                    ORDERS_VERSION_TAG: versions["orders"],
                    STATS_VERSION_TAG: versions["driver_stats_source"],
                },
            )
        ],
        asset_events=observations,
        cursor=cursor,
    )


def _died_on(context: SensorEvaluationContext, versions: dict[str, str]) -> str | None:
    """The id of the latest run for these data versions, when its process died."""
    runs = retried(
        lambda: context.instance.get_runs(
            filters=RunsFilter(
                tags={
                    ORDERS_VERSION_TAG: versions["orders"],
                    STATS_VERSION_TAG: versions["driver_stats_source"],
                }
            ),
            limit=1,
        ),
        "the latest run for these data versions",
    )
    if runs and runs[0].tags.get(DIED_TAG) and runs[0].status == DagsterRunStatus.FAILURE:
        return runs[0].run_id
    return None


def _dead_run_sensor(
    context: SensorEvaluationContext, mlflow_store: MlflowStore, model_registry: ModelRegistry
):
    """Frees the training slot a dead run holds and closes what a dead run or an MLflow outage
    left open in MLflow (see defs/healing)."""
    healed = healing.heal_dead_runs(context.instance)
    for run_id in healed:
        context.log.warning(f"Run {run_id} had lost its process; marked failed")
    client = mlflow_store.configure_client()
    ended = healing.end_orphaned_mlflow_runs(client, context.instance)
    # After the runs are ended: a version whose run is over is no registration in progress.
    pending = registry.finish_or_remove_pending(
        client,
        model_registry.model_name,
        model_registry.alias,
        also=model_registry.challenger_alias,
    )
    if not (healed or ended or pending["finished"] or pending["removed"]):
        return SkipReason("no run lost its process")
    return SkipReason(
        f"marked failed: {healed}; MLflow runs ended: {ended}; pending versions finished: "
        f"{pending['finished']}, removed: {pending['removed']}"
    )


def _last_trained_digest(context: SensorEvaluationContext) -> str | None:
    """The data digest that the latest training_data materialization read, if any."""
    event = retried(
        lambda: context.instance.get_latest_materialization_event(AssetKey("training_data")),
        "training_data's latest materialization",
    )
    if event is None or event.asset_materialization is None:
        return None
    entry = event.asset_materialization.metadata.get(DATA_DIGEST_KEY)
    return entry.value if entry is not None else None


def _drift_retrain_sensor(
    context: SensorEvaluationContext,
    orders_source: OrdersSource,
    feast: FeastResource,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
    drift_settings: DriftSettings,
):
    """Requests a retrain when any feature's PSI against the champion's training data is high."""
    client = mlflow_store.configure_client()
    champion = model_registry.champion(client)
    if champion is None:
        return SkipReason(f"no champion yet: {model_registry.champion_uri()} does not exist")
    profile = reference_profile(client, champion.run_id)["features"]

    try:
        order_frame = orders_source.read()
    except (orders.OrdersError, locations.LocationError) as error:
        return SkipReason(str(error))
    newest = order_frame[EVENT_TIMESTAMP].max()
    window = order_frame[
        order_frame[EVENT_TIMESTAMP] > newest - pd.Timedelta(hours=drift_settings.window_hours)
    ]
    if len(window) < drift_settings.min_rows:
        return SkipReason(
            f"{len(window)} orders in the last {drift_settings.window_hours} h, "
            f"fewer than {drift_settings.min_rows}"
        )
    stats = locations.read_parquet(feast.resolved_driver_stats_path()).to_pandas()
    features = point_in_time.features_as_of(window, stats)
    # The champion's inputs that the stats file holds; a feature from another view is not
    # looked at here.
    shared = {name: bins for name, bins in profile.items() if name in features.columns}
    if not shared:
        return SkipReason(
            f"the stats file {feast.resolved_driver_stats_path()} holds none of the champion's "
            f"features {sorted(profile)}"
        )
    psi = drift.population_stability(shared, features[list(shared)])
    summary = ", ".join(f"{name} {value:.3f}" for name, value in psi.items())
    context.log.info(
        f"PSI of {len(window)} orders up to {newest} against champion "
        f"v{champion.version}: {summary} (threshold {drift_settings.psi_threshold})"
    )
    drifted = {name: value for name, value in psi.items() if value > drift_settings.psi_threshold}
    if not drifted:
        return SkipReason(f"no drift above {drift_settings.psi_threshold}: {summary}")
    return RunRequest(
        run_key=f"drift-v{champion.version}-{newest.isoformat()}-{len(window)}",
        tags={
            TRIGGER_TAG: "drift",
            f"{TAG_PREFIX}/champion_version": str(champion.version),
            **{f"{TAG_PREFIX}/psi_{name}": f"{value:.4f}" for name, value in psi.items()},
        },
    )


def _batch_scoring_sensor(
    context: SensorEvaluationContext,
    batch_requests: BatchRequests,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
):
    """Requests one batch_predictions run over the days the request files cover, per settled
    content of the files and versions of the champion and challenger: the run key is all
    three, so neither the same requests nor the same models score twice."""
    state = json.loads(context.cursor) if context.cursor else {}
    try:
        files = batch_requests.listed()
    except (orders.OrdersError, locations.LocationError) as error:
        return SkipReason(str(error))
    if not files.paths:
        return SkipReason(f"no request files in {files.shown} yet")
    current = fingerprints.signatures(list(files.paths))
    if current != state.get("seen"):
        context.update_cursor(json.dumps({**state, "seen": current}))
        return SkipReason("request files changed since the last tick; waiting for them to settle")
    client = mlflow_store.configure_client()
    champion = model_registry.champion(client)
    if champion is None:
        return SkipReason(f"{model_registry.champion_uri()} does not exist yet")
    # A cursor written before the days were kept has none: they are read once more.
    if state.get("hashed") != current or "days" not in state:
        try:
            first, last, outside = days.covered_days(orders.read_requests(files)[EVENT_TIMESTAMP])
        except (orders.OrdersError, locations.LocationError) as error:
            return SkipReason(str(error))
        covered = [str(first) if first else None, str(last) if last else None, outside]
        state = {**state, "digest": files.digest, "days": covered}
    context.update_cursor(json.dumps({**state, "hashed": current}))
    digest, (first, last, outside) = state["digest"], state["days"]
    if outside:
        context.log.warning(
            f"{outside} request row(s) fall outside the days {days.FIRST_DAY} to today "
            "(UTC) that batch_predictions has partitions for; they are not scored"
        )
    if first is None:
        return SkipReason(f"no request row falls on a day from {days.FIRST_DAY} to today (UTC)")
    shadows = shadow_versions(client, model_registry, champion)
    challenger = shadows.get(CHALLENGER)
    # When it moved too, so that a champion that comes back (a rollback) scores again.
    moved_at = champion.tags.get(f"{LINEAGE_PREFIX}{model_registry.alias}.moved_at", "")
    return RunRequest(
        run_key=f"{digest[:16]}-v{champion.version}-{moved_at}-c{challenger or NO_CHALLENGER}",
        tags={
            TRIGGER_TAG: "batch_requests",
            f"{TAG_PREFIX}/requests_version": digest,
            CHAMPION_VERSION_TAG: str(champion.version),
            **shadow_tags(shadows),
            ASSET_PARTITION_RANGE_START_TAG: first,
            ASSET_PARTITION_RANGE_END_TAG: last,
        },
    )


# What each sensor runs and says, by name; the tick interval is the code location's setting.
_SENSORS = {
    "new_training_data_sensor": (
        _new_training_data_sensor,
        {
            "job": training_job,
            "description": (
                "Runs training_job once for each new settled state of the orders and features."
            ),
        },
    ),
    "dead_run_sensor": (
        _dead_run_sensor,
        {
            "description": (
                "Marks failed the runs on this host whose process died; ends the MLflow runs of "
                "finished runs and finishes or removes the versions a registration left pending."
            ),
        },
    ),
    "drift_retrain_sensor": (
        _drift_retrain_sensor,
        {
            "job": training_job,
            "description": (
                "Retrains when recent orders' features drift from the champion's training data."
            ),
        },
    ),
    "batch_scoring_sensor": (
        _batch_scoring_sensor,
        {
            "job": batch_predictions_job,
            "description": (
                "Scores the batch requests again when a request file lands or @champion moves."
            ),
        },
    ),
    "outcomes_sensor": (
        evaluate_outcomes_sensor,
        {
            "job": live_quality_job,
            "description": (
                "Joins the labels with the predictions of the days they reach, within the "
                "lookback window, and judges each day's live quality."
            ),
        },
    ),
    "live_retrain_sensor": (
        evaluate_live_retrain_sensor,
        {
            "job": training_job,
            "description": (
                "Retrains once per degradation when a day's live RMSE of the champion fails "
                "champion_live_rmse_within_tolerance."
            ),
        },
    ),
    "shadow_promotion_sensor": (
        evaluate_shadow_promotion_sensor,
        {
            "job": promote_model_job,
            "description": (
                "Under promotion: shadow, promotes the challenger once it beat the champion "
                "live on the latest shadow_min_days judged days."
            ),
        },
    ),
    "live_rollback_sensor": (
        evaluate_live_rollback_sensor,
        {
            "job": rollback_model_job,
            "description": (
                "With rollback_on_live_regression, rolls the champion back once the champion "
                "it replaced, scored in shadow, beat it live on the latest shadow_min_days "
                "judged days; without it, says which version rollback_model_job would restore."
            ),
        },
    ),
}


def code_location_sensors(
    interval: Callable[[str], int] = settings.sensor_interval,
) -> list[SensorDefinition]:
    """The sensors, each ticking every `interval(name)` seconds: by default as the code
    location's environment sets it (core/settings.py), read when definitions.py calls this,
    not when this module is imported."""
    return [
        sensor(
            name=name,
            minimum_interval_seconds=interval(name),
            default_status=DefaultSensorStatus.RUNNING,
            **spec,
        )(evaluate)
        for name, (evaluate, spec) in _SENSORS.items()
    ]


# The same sensors with their default intervals, for code that evaluates a sensor directly
# (tests, tools): an interval only matters to the daemon, which runs the code location's.
(
    new_training_data_sensor,
    dead_run_sensor,
    drift_retrain_sensor,
    batch_scoring_sensor,
    outcomes_sensor,
    live_retrain_sensor,
    shadow_promotion_sensor,
    live_rollback_sensor,
) = code_location_sensors(settings.default_sensor_interval)
