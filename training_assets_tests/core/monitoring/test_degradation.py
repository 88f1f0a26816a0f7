"""One degradation is one run of failing judged days, in day order."""

from training_assets.core.monitoring.degradation import newest_degradation


def test_no_failing_day_is_no_degradation():
    assert newest_degradation({}) == []
    assert newest_degradation({"2025-12-01": True, "2025-12-02": True}) == []


def test_the_newest_run_of_failing_days_in_day_order_whatever_the_judging_order():
    verdicts = {
        "2025-12-05": False,
        "2025-12-01": False,
        "2025-12-03": True,
        "2025-12-04": False,
        "2025-12-02": False,
    }
    assert newest_degradation(verdicts) == ["2025-12-04", "2025-12-05"]


def test_a_passing_newer_day_ends_a_degradation_but_does_not_erase_it():
    # A later day passed: the degradation is over, yet it is still the newest one (same key,
    # asked for once); a failure after the passing day is a new one.
    assert newest_degradation({"2025-12-01": False, "2025-12-02": True}) == ["2025-12-01"]
    assert newest_degradation({"2025-12-01": False, "2025-12-02": True, "2025-12-03": False}) == [
        "2025-12-03"
    ]
