"""Each live gate fails for the reason its name gives, and only once enough rows say so."""

from dataclasses import replace

from training_assets.core.gates.catalog import LIVE_GATES, evaluate_live_gates, is_blocking
from training_assets.core.gates.limits import GateLimits
from training_assets.core.monitoring.quality import LiveQuality, ModelQuality, PairedComparison

LIMITS = GateLimits()
CHAMPION = ModelQuality(
    role="champion",
    model_version=3,
    rows=500,
    labelled_rows=400,
    label_rate=0.5,
    mean_prediction=0.5,
    rmse=0.47,
    offline_rmse=0.46,
    served_rows=500,
    served_psi={"conv_rate": 0.01, "acc_rate": 0.02},
)
EVEN = PairedComparison(3, 4, 400, 0.47, 0.47, 0.0, -0.01, 0.01)


def judged(models, comparisons=()):
    return evaluate_live_gates(LiveQuality("2025-12-11", list(models), list(comparisons)), LIMITS)


def test_the_live_gates_warn_and_hold_nothing_back():
    assert not any(is_blocking(gate.name, LIMITS) for gate in LIVE_GATES)


def test_a_steady_day_passes_every_live_gate():
    outcomes = judged([CHAMPION], [EVEN])
    assert sorted(outcomes) == sorted(gate.name for gate in LIVE_GATES)
    assert all(outcome.passed for outcome in outcomes.values())


def test_champion_live_rmse_within_tolerance_fails_on_a_worse_live_rmse():
    worse = replace(CHAMPION, rmse=CHAMPION.offline_rmse + LIMITS.live_rmse_tolerance + 0.01)
    outcome = judged([worse])["champion_live_rmse_within_tolerance"]
    assert not outcome.passed
    assert outcome.evidence["judged"] is True
    assert outcome.evidence["live_rmse"] == worse.rmse
    assert "above its offline test RMSE" in outcome.description
    # The same figures on too few labelled rows are reported, not judged.
    few = replace(worse, labelled_rows=LIMITS.min_labelled_rows - 1)
    unjudged = judged([few])["champion_live_rmse_within_tolerance"]
    assert unjudged.passed and unjudged.evidence["judged"] is False
    # A shadow model's bad day is not the champion's.
    shadow = replace(worse, role="challenger", model_version=4)
    assert judged([CHAMPION, shadow])["champion_live_rmse_within_tolerance"].passed


def test_challenger_not_worse_than_champion_live_fails_when_the_interval_lies_below_zero():
    worse = PairedComparison(3, 4, 400, 0.46, 0.52, -0.06, -0.08, -0.04)
    outcome = judged([CHAMPION], [worse])["challenger_not_worse_than_champion_live"]
    assert not outcome.passed
    assert outcome.evidence["gain_high"] == -0.04
    assert "challenger version 4" in outcome.description
    # An interval that reaches zero is noise, and too few pairs are not judged.
    assert judged([CHAMPION], [replace(worse, gain_high=0.001)])[
        "challenger_not_worse_than_champion_live"
    ].passed
    few = replace(worse, paired_rows=LIMITS.min_labelled_rows - 1)
    assert judged([CHAMPION], [few])["challenger_not_worse_than_champion_live"].passed


def test_served_features_drift_within_limit_fails_on_a_drifted_served_feature():
    drifted = replace(CHAMPION, served_psi={"conv_rate": 0.9, "acc_rate": 0.02})
    outcome = judged([drifted])["served_features_drift_within_limit"]
    assert not outcome.passed
    assert outcome.evidence["drifted"] == ["champion.conv_rate"]
    assert "champion.conv_rate 0.900" in outcome.description
    # On fewer served rows than the minimum it is not judged.
    few = replace(drifted, served_rows=LIMITS.min_served_rows - 1)
    assert judged([few])["served_features_drift_within_limit"].passed


def test_champion_not_worse_than_previous_live_fails_when_the_one_it_replaced_did_better():
    # Version 2, the champion that version 3 replaced, scored in shadow on the same rows.
    regressed = PairedComparison(3, 2, 400, 0.52, 0.46, 0.06, 0.04, 0.08, shadow_role="previous")
    outcome = judged([CHAMPION], [regressed])["champion_not_worse_than_previous_live"]
    assert not outcome.passed
    assert outcome.evidence["restores_version"] == 2
    assert outcome.evidence["gain_low"] == 0.04
    assert "rollback_model_job would restore version 2" in outcome.description
    automatic = evaluate_live_gates(
        LiveQuality("2025-12-11", [CHAMPION], [regressed]), LIMITS, rollback_automatic=True
    )["champion_not_worse_than_previous_live"]
    assert "live_rollback_sensor restores version 2" in automatic.description
    # Noise (an interval that reaches zero) and too few pairs are not a regression.
    noise = replace(regressed, gain_low=-0.001)
    assert judged([CHAMPION], [noise])["champion_not_worse_than_previous_live"].passed
    few = replace(regressed, paired_rows=LIMITS.min_labelled_rows - 1)
    assert judged([CHAMPION], [few])["champion_not_worse_than_previous_live"].passed


def test_each_shadow_is_judged_by_its_own_gate():
    """A challenger that beats the champion is no regression of the champion, and a previous
    champion that does worse is no failing challenger."""
    better_challenger = PairedComparison(3, 4, 400, 0.52, 0.46, 0.06, 0.04, 0.08)
    worse_previous = PairedComparison(3, 2, 400, 0.46, 0.52, -0.06, -0.08, -0.04, "previous")
    outcomes = judged([CHAMPION], [better_challenger, worse_previous])
    assert outcomes["champion_not_worse_than_previous_live"].passed
    assert outcomes["challenger_not_worse_than_champion_live"].passed


def test_a_day_the_champion_moved_on_names_no_rollback_of_a_champion_gone():
    # Version 2 did worse than version 1 in the morning and was rolled back at noon: the day
    # still holds that comparison, but version 1 is the champion now, and restoring it again
    # is no action.
    morning = PairedComparison(2, 1, 400, 0.52, 0.46, 0.06, 0.04, 0.08, shadow_role="previous")
    quality = LiveQuality("2025-12-11", [CHAMPION], [morning])
    outcome = evaluate_live_gates(quality, LIMITS, champion_now=1)[
        "champion_not_worse_than_previous_live"
    ]
    assert not outcome.passed  # the day's evidence stands
    assert "restores_version" not in outcome.evidence
    assert "restore version" not in outcome.description
    assert "version 1 is @champion now, so no rollback follows" in outcome.description
    # Moved twice within the day (1 to 2 to 3): the rollback named is that of the champion
    # now, version 3 back to 2, never 2 back to 1.
    evening = PairedComparison(3, 2, 400, 0.52, 0.46, 0.06, 0.04, 0.08, shadow_role="previous")
    steady = replace(evening, rmse_gain=0.0, gain_low=-0.01, gain_high=0.01)
    for comparisons, restores in (([morning, evening], 2), ([morning, steady], None)):
        outcome = evaluate_live_gates(
            LiveQuality("2025-12-11", [CHAMPION], comparisons), LIMITS, champion_now=3
        )["champion_not_worse_than_previous_live"]
        assert outcome.evidence.get("restores_version") == restores, comparisons
