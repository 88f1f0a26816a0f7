"""Unit tests for the list of gates and its verdicts in training_assets.core.gates.catalog."""

import json

import numpy as np
import pandas as pd
import pytest
from feast.driver_test_data import create_driver_hourly_stats_df

from training_assets.core import records
from training_assets.core.gates.catalog import (
    ALL_GATES,
    DATA_GATES,
    DRIFT_GATE,
    GATES_BY_NAME,
    METRIC_GATES,
    blocking_failures,
    evaluate_data_gates,
    evaluate_metric_gates,
)
from training_assets.core.gates.champion_gates import (
    KEPT_SLICES,
    ChallengerJudgement,
    kept_slices,
)
from training_assets.core.gates.limits import GateLimits
from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURE_CREATED,
    FEATURE_TIMESTAMP,
    LABEL,
    FeatureSource,
)
from training_assets_tests.repo_schema import repo_schema

PASSED = GateOutcome(passed=True)
FAILED = GateOutcome(passed=False, description="failed")


def training_frame(n: int = 20) -> pd.DataFrame:
    """A small training table that fits the schema."""
    rng = np.random.default_rng(2)
    events = pd.date_range("2025-12-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            ENTITY_KEY: np.arange(1001, 1001 + n, dtype=np.int64),
            EVENT_TIMESTAMP: events,
            LABEL: np.array([0, 1] * (n // 2), dtype=np.int64),
            "conv_rate": rng.uniform(0, 1, n).astype(np.float32),
            "acc_rate": rng.uniform(0, 1, n).astype(np.float32),
            "avg_daily_trips": rng.integers(0, 40, n).astype(np.int32),
            FEATURE_TIMESTAMP: events - pd.Timedelta(minutes=20),
            FEATURE_CREATED: events - pd.Timedelta(minutes=15),
        }
    )


# --- blocking_failures ---------------------------------------------------------------------


def test_blocking_failures_lists_failed_blocking_gates_sorted():
    outcomes = {
        "rmse_within_ceiling": FAILED,
        "labels_are_binary": FAILED,
        "no_unexpected_columns": PASSED,
        "latency_within_budget": PASSED,
    }

    assert blocking_failures(outcomes) == ["labels_are_binary", "rmse_within_ceiling"]


def test_blocking_failures_ignores_a_failed_non_blocking_gate():
    assert not GATES_BY_NAME["duplicate_rows_within_rate"].blocking

    assert blocking_failures({"duplicate_rows_within_rate": FAILED}) == []
    assert blocking_failures(
        {"duplicate_rows_within_rate": FAILED, "row_count_matches_orders": FAILED}
    ) == ["row_count_matches_orders"]


def test_blocking_failures_ignores_a_failure_that_only_warns():
    warned = GateOutcome(passed=False, description="PSI above the warning limit", warn_only=True)

    assert blocking_failures({DRIFT_GATE.name: warned}) == []
    # The same gate failing without warn_only blocks.
    assert blocking_failures({DRIFT_GATE.name: FAILED}) == [DRIFT_GATE.name]


def test_blocking_failures_of_passing_outcomes_is_empty():
    assert blocking_failures(dict.fromkeys(GATES_BY_NAME, PASSED)) == []


# --- the list ------------------------------------------------------------------------------


def test_every_gate_name_is_unique():
    names = [gate.name for gate in ALL_GATES]

    assert len(names) == len(set(names))
    assert len(GATES_BY_NAME) == len(ALL_GATES)


def test_every_gate_key_is_its_asset_and_name():
    assert all(gate.key == f"{gate.asset}:{gate.name}" for gate in ALL_GATES)
    assert len({gate.key for gate in ALL_GATES}) == len(ALL_GATES)


# --- evaluate_* ----------------------------------------------------------------------------


def test_evaluate_data_gates_returns_exactly_the_data_gates(tmp_path):
    frame = training_frame()

    outcomes = evaluate_data_gates(
        frame, repo_schema(), GateLimits(min_rows=10), len(frame), stats_sources(tmp_path)
    )

    assert sorted(outcomes) == sorted(gate.name for gate in DATA_GATES)
    assert all(isinstance(outcome, GateOutcome) for outcome in outcomes.values())
    assert blocking_failures(outcomes) == []


def test_evaluate_data_gates_reports_a_failure_under_its_gate_name(tmp_path):
    frame = training_frame()

    outcomes = evaluate_data_gates(
        frame, repo_schema(), GateLimits(min_rows=10), len(frame) + 1, stats_sources(tmp_path)
    )

    assert blocking_failures(outcomes) == ["row_count_matches_orders"]


def stats_sources(tmp_path, created=None) -> list[FeatureSource]:
    """The repo's view reading a stats file from Feast's generator; `created` replaces the
    generator's created times when given."""
    np.random.seed(4)
    stats = create_driver_hourly_stats_df(
        [1001, 1002], pd.Timestamp("2025-12-01", tz="UTC"), pd.Timestamp("2025-12-02", tz="UTC")
    )
    if created is not None:
        stats["created"] = created(stats)
    path = tmp_path / "driver_stats.parquet"
    stats.to_parquet(path, index=False)
    return [FeatureSource("driver_stats", str(path), "event_timestamp", "created")]


def test_a_stats_row_without_created_blocks_by_default_and_passes_under_a_configured_rate(
    tmp_path,
):
    frame = training_frame()
    sources = stats_sources(
        tmp_path, lambda stats: stats["created"].where(stats.index != 0, pd.NaT)
    )
    rate = 1 / pd.read_parquet(sources[0].path).shape[0]

    default = evaluate_data_gates(frame, repo_schema(), GateLimits(min_rows=1), len(frame), sources)
    allowed = evaluate_data_gates(
        frame,
        repo_schema(),
        GateLimits(min_rows=1, max_feature_time_null_rate=rate),
        len(frame),
        sources,
    )

    assert blocking_failures(default) == ["feature_times_not_null"]
    assert default["feature_times_not_null"].evidence["null_rates"]["driver_stats.created"] == rate
    assert blocking_failures(allowed) == []


def test_evaluate_metric_gates_returns_exactly_the_metric_gates():
    evaluation = {"rmse": 0.40, "mae": 0.35, "baseline_rmse": 0.50}

    outcomes = evaluate_metric_gates(evaluation, GateLimits())

    assert sorted(outcomes) == sorted(gate.name for gate in METRIC_GATES)
    assert all(outcome.passed for outcome in outcomes.values())


def test_evaluate_metric_gates_fails_the_gates_whose_limits_are_broken():
    evaluation = {"rmse": 0.55, "mae": 0.30, "baseline_rmse": 0.50}

    outcomes = evaluate_metric_gates(evaluation, GateLimits())

    assert blocking_failures(outcomes) == ["beats_mean_baseline", "rmse_within_ceiling"]


def test_rows_created_after_their_order_warn_by_default_and_block_when_configured():
    frame = training_frame()
    frame[FEATURE_CREATED] = frame[EVENT_TIMESTAMP] + pd.Timedelta(hours=1)

    default = evaluate_data_gates(frame, repo_schema(), GateLimits(min_rows=1), len(frame), [])
    strict = evaluate_data_gates(
        frame, repo_schema(), GateLimits(min_rows=1, late_features_block=True), len(frame), []
    )

    assert not default["features_created_before_order"].passed
    assert default["features_created_before_order"].warn_only
    assert "features_created_before_order" not in blocking_failures(default)
    assert blocking_failures(strict) == ["features_created_before_order"]


def test_a_configured_range_replaces_the_repos_and_fails_the_range_gate():
    frame = training_frame()
    frame["avg_daily_trips"] = np.int32(30)

    default = evaluate_data_gates(frame, repo_schema(), GateLimits(min_rows=1), len(frame), [])
    narrowed = evaluate_data_gates(
        frame,
        repo_schema(),
        GateLimits(min_rows=1, feature_maximums={"avg_daily_trips": 25}),
        len(frame),
        [],
    )

    assert default["feature_values_in_range"].passed
    failed = narrowed["feature_values_in_range"]
    assert not failed.passed
    assert failed.evidence["expected_ranges"]["avg_daily_trips"] == "[0, 25]"
    assert failed.evidence["out_of_range"]["avg_daily_trips"]["rows"] == len(frame)
    assert blocking_failures(narrowed) == ["feature_values_in_range"]


# --- the champion gates' judgement, the challenger_judgement asset's value ------------------


def judged_outcomes() -> tuple[dict, pd.DataFrame]:
    outcomes = {
        "model_loads_and_predicts": GateOutcome(True, {"model_uri": "m:/2", "rows": 40}),
        "signature_matches_champion": GateOutcome(True, {"added": [], "removed": []}),
        "no_regression_against_champion": GateOutcome(
            False,
            {"challenger_rmse": 0.51, "champion_rmse": 0.45, "excess": 0.06, "tolerance": 0.005},
            "RMSE 0.5100 is 0.0600 worse than the champion's 0.4500, beyond 0.005",
        ),
        "worst_slice_within_limits": GateOutcome(True, {"failing_slices": []}),
        "latency_within_budget": GateOutcome(True, {"p95_ms": 3.25, "budget_ms": 50.0}),
    }
    slices = pd.DataFrame(
        {
            "slice": [1004, 1001, 1003, 1002],
            "rows": [20, 30, 3, 25],
            "rmse": [0.61, 0.52, 0.9, 0.41],
            "champion_rmse": [0.6, 0.5, 0.2, 0.4],
        }
    )
    return outcomes, slices


def a_judgement(limits: GateLimits) -> ChallengerJudgement:
    outcomes, slices = judged_outcomes()
    return ChallengerJudgement(
        model_uri="m:/2",
        champion_version=1,
        champion_uri="models:/model/1",
        limits=limits,
        outcomes=outcomes,
        slices=kept_slices(slices, limits.slice_min_rows),
        champion_scores={"rmse": 0.45, "mae": 0.4},
    )


def test_a_judgement_reads_back_through_json_as_it_was_made():
    limits = GateLimits(slice_min_rows=15)
    judgement = a_judgement(limits)

    # Through JSON, as the IO manager stores it.
    stored = json.loads(json.dumps(records.dump(judgement), sort_keys=True))
    found = records.load(ChallengerJudgement, stored)

    assert found == judgement
    assert found.outcomes == judged_outcomes()[0]
    # The judged slices worst first, then the one too small to judge (3 rows), as judged.
    assert found.slice_table().to_dict("list") == {
        "slice": [1004, 1001, 1002, 1003],
        "rows": [20, 30, 25, 3],
        "rmse": [0.61, 0.52, 0.41, 0.9],
        "champion_rmse": [0.6, 0.5, 0.4, 0.2],
    }


def test_a_judgement_keeps_the_worst_slices_only():
    many = pd.DataFrame(
        {
            "slice": [f"s{i}" for i in range(100)],
            "rows": [5 if i % 2 else 50 for i in range(100)],
            "rmse": np.linspace(0.9, 0.1, 100),
        }
    )

    kept = kept_slices(many, 15)

    assert len(kept) == KEPT_SLICES
    assert all(score.rows == 50 for score in kept)
    assert [score.slice for score in kept[:2]] == ["s0", "s2"]
    assert kept[0].champion_rmse is None


def test_a_stored_judgement_missing_a_field_is_named():
    stored = records.dump(a_judgement(GateLimits()))
    del stored["champion_version"]

    with pytest.raises(ValueError, match="not a ChallengerJudgement record.*champion_version"):
        records.load(ChallengerJudgement, stored)


@pytest.mark.parametrize(
    "model, champion, limits, differs",
    [
        ("m:/3", 1, GateLimits(slice_min_rows=15), "model_uri"),  # another challenger
        ("m:/2", None, GateLimits(slice_min_rows=15), "champion_version"),  # another champion
        ("m:/2", 1, GateLimits(slice_min_rows=15, regression_tolerance=0.1), "limits"),
    ],
    ids=["challenger", "champion", "limits"],
)
def test_a_judgement_of_anything_else_names_what_differs(model, champion, limits, differs):
    judgement = a_judgement(GateLimits(slice_min_rows=15))

    assert judgement.differences("m:/2", 1, GateLimits(slice_min_rows=15)) == {}
    found = judgement.differences(model, champion, limits)
    assert list(found) == [differs]
    if differs == "champion_version":
        assert found[differs] == {"judged": 1, "expected": None}
