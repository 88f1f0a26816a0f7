"""Every gate by name: the asset it guards, the property it states, and whether it blocks.

This is the one list of gates. The Dagster checks (`defs/checks/`) build their check specs from
it and call the `evaluate_*` functions below; code that runs the pipeline without Dagster (the
benchmark's plain script) calls the same functions and asks `blocking_failures` whether the
model may be registered.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import mlflow
import numpy as np
import pandas as pd

from training_assets.core.gates import data_gates, live_gates, model_gates
from training_assets.core.gates.champion_gates import ChallengerJudgement, judge, kept_slices
from training_assets.core.gates.drift_gate import judge_drift
from training_assets.core.gates.limits import GateLimits
from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.ml.metrics import scores
from training_assets.core.monitoring.quality import LiveQuality
from training_assets.core.schema import FeatureSource, TrainingSchema

TRAINING_DATA = "training_data"
EVALUATION = "evaluation"
LIVE_MODEL_QUALITY = "live_model_quality"


@dataclass(frozen=True)
class Gate:
    """A named property of an asset. A failed gate holds back registration if `blocking`."""

    name: str
    asset: str
    description: str
    blocking: bool = True

    @property
    def key(self) -> str:
        """`asset:name`, as Dagster names a check."""
        return f"{self.asset}:{self.name}"


DATA_GATES = (
    Gate(
        "no_unexpected_columns",
        TRAINING_DATA,
        "Only the schema's key, feature and label columns are present.",
    ),
    Gate(
        "expected_columns_with_dtypes",
        TRAINING_DATA,
        "Every schema column is present with its schema dtype.",
    ),
    Gate("labels_are_binary", TRAINING_DATA, "trip_completed is 0 or 1 on every row, never null."),
    Gate(
        "feature_nulls_within_rate",
        TRAINING_DATA,
        "No feature is null on more rows than the configured rate.",
    ),
    Gate(
        "row_count_at_least_minimum",
        TRAINING_DATA,
        "The table has at least the configured number of rows.",
    ),
    Gate("row_count_matches_orders", TRAINING_DATA, "The join kept every order exactly once."),
    Gate(
        "feature_values_in_range",
        TRAINING_DATA,
        "Every feature value lies in the range its feature's min/max tags or config declare.",
    ),
    Gate(
        "features_not_from_the_future",
        TRAINING_DATA,
        "No order was joined with a stats row stamped after it.",
    ),
    # Blocking only with late_features_block (SWITCHED); otherwise a failure warns.
    Gate(
        "features_created_before_order",
        TRAINING_DATA,
        "No order was joined with a stats row written after it (a late correction).",
    ),
    Gate(
        "feature_times_not_null",
        TRAINING_DATA,
        "Each feature view's file has a timestamp and a created time on all but the "
        "configured rate of its rows: without them the join cannot pick the latest version.",
    ),
    Gate(
        "feature_keys_not_null",
        TRAINING_DATA,
        "No row of a feature view's file lacks a join key: such a row is never joined, and "
        "orders in its hour silently take older values.",
    ),
    # Duplicates may be real (two orders in one second); they warn and do not block.
    Gate(
        "duplicate_rows_within_rate",
        TRAINING_DATA,
        "Few rows repeat (driver_id, event_timestamp, label).",
        blocking=False,
    ),
)

# Blocking only with drift_blocks (SWITCHED), and then a PSI between the warning and blocking
# limits still only warns (GateOutcome.warn_only).
DRIFT_GATE = Gate(
    "drift_within_limits",
    TRAINING_DATA,
    "Feature PSI and label rate against the champion's training data: warn, then block.",
)

METRIC_GATES = (
    Gate("rmse_within_ceiling", EVALUATION, "The test-set RMSE does not exceed the ceiling."),
    Gate("mae_within_ceiling", EVALUATION, "The test-set MAE does not exceed the ceiling."),
    Gate(
        "beats_mean_baseline",
        EVALUATION,
        "The test-set RMSE beats predicting the training mean by the configured margin.",
    ),
)

CHAMPION_GATES = (
    Gate(
        "no_regression_against_champion",
        EVALUATION,
        "RMSE on this test split is not worse than the champion's.",
    ),
    Gate(
        "worst_slice_within_limits",
        EVALUATION,
        "No large slice is bad, or much worse than the champion's.",
    ),
    Gate(
        "model_loads_and_predicts",
        EVALUATION,
        "The logged model loads as pyfunc and predicts valid rows.",
    ),
    Gate(
        "signature_matches_champion",
        EVALUATION,
        "The model takes the same inputs as the champion.",
    ),
    Gate(
        "latency_within_budget",
        EVALUATION,
        "p95 time to predict a batch stays under the budget.",
    ),
)

# Serving: nothing is downstream of the online store, so the skew check reports and holds
# nothing back.
SKEW_GATE = Gate(
    "online_matches_offline",
    "online_features",
    "What the online store serves equals the offline point-in-time features at the newest "
    "feature time (training/serving skew), for every driver whose value has not expired. A "
    "view that differs is withdrawn from serving until online_features reloads it in full.",
)

# Live quality: judged per day on the predictions whose labels arrived, in the step that
# measures it. Nothing is downstream to hold back, and a blocking failure would fail the run
# whose output is the evidence, so they warn; what acts on them reads the check's verdict.
LIVE_GATES = (
    Gate(
        "champion_live_rmse_within_tolerance",
        LIVE_MODEL_QUALITY,
        "The champion's RMSE on the day's labelled predictions is not above its offline test "
        "RMSE by more than the tolerance; judged on at least min_labelled_rows.",
        blocking=False,
    ),
    Gate(
        "challenger_not_worse_than_champion_live",
        LIVE_MODEL_QUALITY,
        "On the same labelled requests, the challenger's RMSE is not worse than the "
        "champion's: the bootstrap 95% interval of the paired gain does not lie below zero; "
        "judged on at least min_labelled_rows pairs.",
        blocking=False,
    ),
    Gate(
        "champion_not_worse_than_previous_live",
        LIVE_MODEL_QUALITY,
        "On the same labelled requests, the champion's RMSE is not worse than that of the "
        "champion it replaced, scored in shadow: the bootstrap 95% interval of the paired gain "
        "does not lie above zero; judged on at least min_labelled_rows pairs. A failure names "
        "the version rollback_model_job would restore (restored by itself with "
        "rollback_on_live_regression).",
        blocking=False,
    ),
    Gate(
        "served_features_drift_within_limit",
        LIVE_MODEL_QUALITY,
        "No feature served to a model that day drifts from its training profile beyond the "
        "PSI that warns; judged on at least min_served_rows.",
        blocking=False,
    ),
)

ALL_GATES = (*DATA_GATES, DRIFT_GATE, *METRIC_GATES, *CHAMPION_GATES, SKEW_GATE, *LIVE_GATES)
GATES_BY_NAME = {gate.name: gate for gate in ALL_GATES}

# Gates that block only when a deployment says so, by the GateLimits field that says it. The
# Dagster checks take these fields from the code location's environment, since whether a check
# blocks is part of its definition (defs/resources/gates.py).
SWITCHED = {
    "features_created_before_order": "late_features_block",
    DRIFT_GATE.name: "drift_blocks",
}


def is_blocking(name: str, limits: GateLimits) -> bool:
    """Whether a failure of gate `name` can hold back registration under `limits`: a switched
    gate only when its switch is on."""
    switch = SWITCHED.get(name)
    return GATES_BY_NAME[name].blocking and (switch is None or getattr(limits, switch))


def evaluate_data_gates(
    table: data_gates.Table,
    schema: TrainingSchema,
    limits: GateLimits,
    order_count: int,
    sources: Sequence[FeatureSource],
    **settings,
) -> dict[str, GateOutcome]:
    """The outcome of every data gate on the training table and its feature files, by gate
    name.

    Args:
        table: A TableQuery on the table's file, or the table as a frame or Arrow table.
        schema: The training table's columns as the feature service declares them; the
            ranges that `limits` sets replace the repo's.
        order_count: How many orders went into the join.
        sources: The files the service's views read (`feast_repo.feature_sources`).
        settings: `memory_limit` and `temp_directory` of the queries on those files.
    """
    schema = schema.with_ranges(limits.feature_minimums, limits.feature_maximums)
    with data_gates.queried(table) as query:
        return {
            "no_unexpected_columns": data_gates.no_unexpected_columns(query, schema),
            "expected_columns_with_dtypes": data_gates.expected_columns_with_dtypes(query, schema),
            "labels_are_binary": data_gates.labels_are_binary(query),
            "feature_nulls_within_rate": data_gates.feature_nulls_within_rate(
                query, schema, limits.max_feature_null_rate
            ),
            "row_count_at_least_minimum": data_gates.row_count_at_least(query, limits.min_rows),
            "row_count_matches_orders": data_gates.row_count_matches_orders(query, order_count),
            "feature_values_in_range": data_gates.feature_values_in_range(query, schema),
            "features_not_from_the_future": data_gates.features_not_from_the_future(query),
            "features_created_before_order": _warns_unless(
                data_gates.features_created_before_order(query), limits.late_features_block
            ),
            "feature_times_not_null": data_gates.feature_times_not_null(
                sources, limits.max_feature_time_null_rate, **settings
            ),
            "feature_keys_not_null": data_gates.feature_keys_not_null(sources, **settings),
            "duplicate_rows_within_rate": data_gates.duplicate_rows_within_rate(
                query, limits.max_duplicate_rate
            ),
        }


def _warns_unless(outcome: GateOutcome, blocks: bool) -> GateOutcome:
    """`outcome`, marked as only warning when it failed and `blocks` is off."""
    return replace(outcome, warn_only=not outcome.passed and not blocks)


def evaluate_drift_gate(
    client: mlflow.MlflowClient,
    table: data_gates.Table,
    schema: TrainingSchema,
    champion,
    limits: GateLimits,
) -> GateOutcome:
    """The drift gate's outcome against the champion's MLflow model version (None: no
    champion), whose training-data profile is read through `client`."""
    return judge_drift(client, table, schema.feature_names, champion, limits)


def evaluate_metric_gates(evaluation: dict, limits: GateLimits) -> dict[str, GateOutcome]:
    """The outcome of every gate on the test-split scores (`Evaluation.metrics()`), by gate
    name."""
    return {
        "rmse_within_ceiling": model_gates.metric_within_ceiling(
            evaluation, "rmse", limits.rmse_ceiling
        ),
        "mae_within_ceiling": model_gates.metric_within_ceiling(
            evaluation, "mae", limits.mae_ceiling
        ),
        "beats_mean_baseline": model_gates.beats_mean_baseline(
            evaluation, limits.min_improvement_over_baseline
        ),
    }


def evaluate_champion_gates(
    client: mlflow.MlflowClient,
    model_uri: str,
    champion_version: int | None,
    champion_uri: str | None,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    test_keys: pd.DataFrame,
    train_mean: float,
    limits: GateLimits,
    predictions: dict[str, np.ndarray] | None = None,
) -> ChallengerJudgement:
    """Every challenger gate's outcome for `model_uri` against the champion version
    `champion_version` at `champion_uri` (both None: no champion yet), with the slices and the
    champion's scores behind them.

    Args:
        client: The MLflow client both models are read through.
        test_x, test_y, test_keys: The test split; both models are scored on it.
        train_mean: The training labels' mean, the baseline of the champion's scores.
        predictions: As `champion_gates.judge` fills it.
    """
    made = predictions if predictions is not None else {}
    outcomes, table = judge(
        client,
        model_uri,
        champion_uri,
        test_x,
        test_y,
        slice_values(limits.slice_column, test_x, test_keys),
        limits,
        made,
    )
    champion = made.get("champion")
    return ChallengerJudgement(
        model_uri=model_uri,
        champion_version=champion_version,
        champion_uri=champion_uri,
        limits=limits,
        outcomes=outcomes,
        slices=kept_slices(table, limits.slice_min_rows),
        champion_scores=None if champion is None else scores(champion, test_y, train_mean),
    )


def evaluate_live_gates(
    quality: LiveQuality,
    limits: GateLimits,
    rollback_automatic: bool = False,
    champion_now: int | None = None,
) -> dict[str, GateOutcome]:
    """The live gates' outcomes for a day's quality; `rollback_automatic` says whether a
    champion worse than the one before it is rolled back by itself, and `champion_now` which
    version is the champion as the day is judged, for the failure's text."""
    return {
        "champion_live_rmse_within_tolerance": live_gates.champion_within_tolerance(
            quality.champion(), limits.live_rmse_tolerance, limits.min_labelled_rows
        ),
        "challenger_not_worse_than_champion_live": live_gates.challenger_not_worse(
            quality.comparisons, limits.min_labelled_rows
        ),
        "champion_not_worse_than_previous_live": live_gates.champion_not_worse_than_previous(
            quality.comparisons, limits.min_labelled_rows, rollback_automatic, champion_now
        ),
        "served_features_drift_within_limit": live_gates.served_drift_within_limit(
            quality.models, limits.served_drift_warn_psi, limits.min_served_rows
        ),
    }


def slice_values(column: str, test_x: pd.DataFrame, test_keys: pd.DataFrame) -> pd.Series:
    """The slice each test row belongs to: `column` of the test keys, else of the features."""
    for frame in (test_keys, test_x):
        if column in frame.columns:
            return frame[column]
    raise ValueError(
        f"slice column {column!r} is in neither the test keys {list(test_keys.columns)} "
        f"nor the features {list(test_x.columns)}"
    )


def blocks(name: str, outcome: GateOutcome) -> bool:
    """Whether this outcome of the gate `name` holds back registration."""
    return not outcome.passed and GATES_BY_NAME[name].blocking and not outcome.warn_only


def blocking_failures(outcomes: dict[str, GateOutcome]) -> list[str]:
    """The names of the gates whose outcomes hold back registration, sorted."""
    return sorted(name for name, outcome in outcomes.items() if blocks(name, outcome))
