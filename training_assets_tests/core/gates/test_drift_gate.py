"""Unit tests for the drift levels in training_assets.core.gates.drift_gate."""

from training_assets.core.gates.drift_gate import drift_against_reference


def test_drift_levels_ok_warn_and_block():
    limits = dict(warn_psi=0.1, block_psi=0.25, warn_label_shift=0.05, block_label_shift=0.15)

    ok, ok_level = drift_against_reference({"conv_rate": 0.02}, 0.01, **limits)
    warned, warn_level = drift_against_reference({"conv_rate": 0.15}, 0.01, **limits)
    blocked, block_level = drift_against_reference({"conv_rate": 0.05}, -0.2, **limits)

    assert (ok.passed, ok_level) == (True, "ok")
    assert (warned.passed, warn_level) == (False, "warn")
    assert (blocked.passed, block_level) == (False, "block")
    assert blocked.evidence["label_rate_shift"] == -0.2
