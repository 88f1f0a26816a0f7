"""The asset checks of the code location against the gate list in core/gates/catalog.py."""

import json
import os
import subprocess
import sys

import pytest
from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey

from training_assets.core import paths
from training_assets.core.gates.catalog import ALL_GATES, DRIFT_GATE, is_blocking
from training_assets.core.gates.outcome import GateOutcome
from training_assets.definitions import defs
from training_assets.defs.checks.results import check_result
from training_assets.defs.resources.gates import SWITCH_ENV, code_location_limits

GATES_BY_KEY = {gate.key: gate for gate in ALL_GATES}


def key_string(key: AssetCheckKey) -> str:
    return f"{key.asset_key.to_user_string()}:{key.name}"


@pytest.fixture(scope="module")
def check_specs() -> dict[str, object]:
    """Every check spec of the code location by `asset:name`."""
    graph = defs.resolve_asset_graph()
    specs = {key_string(key): graph.get_check_spec(key) for key in graph.asset_check_keys}
    assert len(specs) == len(graph.asset_check_keys)
    return specs


def test_the_checks_are_exactly_the_catalogs_gates(check_specs):
    assert sorted(check_specs) == sorted(GATES_BY_KEY)


def test_each_check_blocks_as_its_gate_does(check_specs):
    blocking = {key: spec.blocking for key, spec in check_specs.items()}

    limits = code_location_limits()
    assert blocking == {key: is_blocking(gate.name, limits) for key, gate in GATES_BY_KEY.items()}
    # At least one gate of each kind, so the comparison above says something.
    assert set(blocking.values()) == {True, False}


# What the code location declares for the switched gates, and what their failures do, in a
# process whose environment is the test's: the specs are built when the code location loads.
DECLARED = """
import json
from training_assets.core.gates.outcome import GateOutcome
from training_assets.definitions import defs
from training_assets.defs.checks.results import check_result

graph = defs.resolve_asset_graph()
specs = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys}
failed = GateOutcome(passed=False, description="failed")
print(json.dumps({
    name: [specs[name].blocking, check_result(name, failed).severity.value]
    for name in ("features_created_before_order", "drift_within_limits")
}))
"""


def declared(**environment) -> dict[str, list]:
    env = {key: value for key, value in os.environ.items() if key not in SWITCH_ENV.values()}
    done = subprocess.run(
        [sys.executable, "-c", DECLARED],
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=paths.PROJECT_ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_switched_gates_are_declared_non_blocking_and_only_warn_by_default():
    assert declared() == {
        "features_created_before_order": [False, "WARN"],
        "drift_within_limits": [False, "WARN"],
    }


def test_a_switch_in_the_environment_declares_its_gate_blocking_and_its_failure_an_error():
    assert declared(TRAINING_ASSETS_DRIFT_BLOCKS="1") == {
        "features_created_before_order": [False, "WARN"],
        "drift_within_limits": [True, "ERROR"],
    }
    assert declared(TRAINING_ASSETS_LATE_FEATURES_BLOCK="true") == {
        "features_created_before_order": [True, "ERROR"],
        "drift_within_limits": [False, "WARN"],
    }


def test_each_check_is_on_its_gates_asset(check_specs):
    for key, spec in check_specs.items():
        assert spec.asset_key == AssetKey(GATES_BY_KEY[key].asset), key
        assert spec.name == GATES_BY_KEY[key].name


# --- check_result --------------------------------------------------------------------------


def test_a_failed_non_blocking_gate_only_warns():
    outcome = GateOutcome(passed=False, evidence={"duplicate_rows": 5}, description="5 repeats")

    result = check_result("duplicate_rows_within_rate", outcome)

    assert not result.passed
    assert result.severity == AssetCheckSeverity.WARN
    assert result.asset_key == AssetKey("training_data")
    assert result.check_name == "duplicate_rows_within_rate"


def test_a_failed_blocking_gate_is_an_error():
    outcome = GateOutcome(passed=False, evidence={"null_labels": 2}, description="2 null")

    result = check_result("labels_are_binary", outcome)

    assert not result.passed
    assert result.severity == AssetCheckSeverity.ERROR
    assert result.asset_key == AssetKey("training_data")
    assert result.check_name == "labels_are_binary"
    assert result.metadata["null_labels"].value == 2
    assert result.metadata["reason"].value == "2 null"


def test_a_warn_only_failure_of_a_blocking_gate_only_warns():
    outcome = GateOutcome(passed=False, description="below the blocking limit", warn_only=True)

    result = check_result("labels_are_binary", outcome)

    assert not result.passed
    assert result.severity == AssetCheckSeverity.WARN


def test_a_passed_gate_passes():
    result = check_result("rmse_within_ceiling", GateOutcome(passed=True, evidence={"rmse": 0.4}))

    assert result.passed
    assert result.asset_key == AssetKey("evaluation")


def test_limits_are_text_and_per_feature_figures_are_numbers_the_ui_plots():
    outcome = GateOutcome(
        passed=True,
        evidence={"psi": {"conv_rate": 0.03, "acc_rate": 0.12}, "warn_psi": 0.1, "level": "ok"},
    )

    result = check_result(DRIFT_GATE.name, outcome)

    assert result.metadata["psi.conv_rate"].value == 0.03
    assert result.metadata["psi.acc_rate"].value == 0.12
    assert result.metadata["psi"].value == {"conv_rate": 0.03, "acc_rate": 0.12}
    assert result.metadata["warn_psi"].value == "0.1"  # a limit, not a figure to plot
