"""Unit tests for the drift levels in training_assets.core.gates.drift_gate."""

from types import SimpleNamespace

import pandas as pd
import pytest

from training_assets.core.gates.catalog import DRIFT_GATE, blocking_failures
from training_assets.core.gates.drift_gate import drift_against_reference, judge_drift
from training_assets.core.gates.limits import GateLimits
from training_assets.core.schema import LABEL
from training_assets.core.tracking.lineage import REFERENCE_PROFILE_ARTIFACT


def test_drift_levels_ok_warn_and_block():
    limits = dict(warn_psi=0.1, block_psi=0.25, warn_label_shift=0.05, block_label_shift=0.15)

    ok, ok_level = drift_against_reference({"conv_rate": 0.02}, 0.01, **limits)
    warned, warn_level = drift_against_reference({"conv_rate": 0.15}, 0.01, **limits)
    blocked, block_level = drift_against_reference({"conv_rate": 0.05}, -0.2, **limits)

    assert (ok.passed, ok_level) == (True, "ok")
    assert (warned.passed, warn_level) == (False, "warn")
    assert (blocked.passed, block_level) == (False, "block")
    assert blocked.evidence["label_rate_shift"] == -0.2


@pytest.mark.parametrize("drift_blocks", [False, True])
def test_a_champion_profile_that_cannot_be_read_blocks_only_as_drift_would(
    mlflow_client, drift_blocks
):
    # A champion whose run is not in the store: its profile cannot be downloaded.
    champion = SimpleNamespace(version="3", run_id="0" * 32)
    frame = pd.DataFrame({"conv_rate": [0.5], LABEL: [1]})

    outcome = judge_drift(
        mlflow_client, frame, ["conv_rate"], champion, GateLimits(drift_blocks=drift_blocks)
    )

    assert not outcome.passed
    assert outcome.evidence["expected"] == f"runs:/{'0' * 32}/{REFERENCE_PROFILE_ARTIFACT}"
    assert blocking_failures({DRIFT_GATE.name: outcome}) == (
        [DRIFT_GATE.name] if drift_blocks else []
    )
