"""The switches of the gates whose blocking is a deployment's choice: set by the code location's
environment, and run config that says otherwise refused before any step."""

import pytest

from training_assets.definitions import defs
from training_assets.defs.config import RunConfigError, check_run_config
from training_assets.defs.resources.gates import SWITCH_ENV, GateThresholds, blocking_switches


def test_switches_are_off_unless_the_environment_turns_them_on():
    assert blocking_switches({}) == {"drift_blocks": False, "late_features_block": False}
    assert blocking_switches(
        {"TRAINING_ASSETS_DRIFT_BLOCKS": " On ", "TRAINING_ASSETS_LATE_FEATURES_BLOCK": "0"}
    ) == {"drift_blocks": True, "late_features_block": False}


@pytest.mark.parametrize("value", ["2", "enabled", "blocking", "tru"])
def test_a_switch_that_is_neither_on_nor_off_is_named(value):
    with pytest.raises(ValueError, match=rf"TRAINING_ASSETS_DRIFT_BLOCKS='{value}': expected"):
        blocking_switches({"TRAINING_ASSETS_DRIFT_BLOCKS": value})


@pytest.mark.parametrize(
    ("field", "gate"),
    [
        ("drift_blocks", "drift_within_limits"),
        ("late_features_block", "features_created_before_order"),
    ],
)
def test_run_config_that_would_change_whether_a_gate_blocks_is_refused_before_any_step(field, gate):
    run_config = {"resources": {"gates": {"config": {field: True}}}}

    with pytest.raises(RunConfigError) as refused:
        check_run_config(defs.resolve_job_def("training_job"), run_config)

    message = str(refused.value)
    assert f"resources.gates.config.{field} is true in run config" in message
    assert f"declares {gate} non-blocking" in message
    assert f"Set {SWITCH_ENV[field]}=1 in the code location's environment" in message


def test_run_config_that_repeats_the_code_locations_switches_is_accepted():
    run_config = {"resources": {"gates": {"config": {"drift_blocks": False}}}}

    check_run_config(defs.resolve_job_def("training_job"), run_config)
    assert GateThresholds(late_features_block=False).limits().late_features_block is False
