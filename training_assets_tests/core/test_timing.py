"""Unit tests for the named stage timings in training_assets.core.timing."""

import time

import pytest

from training_assets.core import timing
from training_assets.core.timing import recording, timed

PAUSE_S = 0.02


def test_a_timed_block_is_recorded_with_its_calls_and_seconds():
    with recording() as sink:
        with timed("stage"):
            time.sleep(PAUSE_S)
        with timed("stage"):
            pass
        with timed("other"):
            pass

    assert set(sink) == {"stage", "other"}
    assert sink["stage"]["calls"] == 2
    assert sink["other"]["calls"] == 1
    assert sink["stage"]["total_s"] >= PAUSE_S
    assert 0 <= sink["other"]["total_s"] < sink["stage"]["total_s"]


def test_timed_works_as_a_decorator():
    @timed("decorated")
    def work(value: int) -> int:
        time.sleep(PAUSE_S)
        return value * 2

    with recording() as sink:
        assert work(2) == 4
        assert work(3) == 6

    assert set(sink) == {"decorated"}
    assert sink["decorated"]["calls"] == 2
    assert sink["decorated"]["total_s"] >= 2 * PAUSE_S


def test_a_block_that_raises_is_still_recorded():
    with recording() as sink:
        with pytest.raises(RuntimeError), timed("failing"):
            raise RuntimeError("boom")

    assert sink["failing"]["calls"] == 1


def test_nothing_is_recorded_outside_a_recording_block():
    with timed("before"):
        pass

    with recording() as sink:
        assert sink == {}
        with timed("inside"):
            pass

    with timed("inside"):
        pass
    with timed("after"):
        pass

    assert sink == {"inside": {"calls": 1, "total_s": sink["inside"]["total_s"]}}
    assert timing._sinks == []


def test_every_active_recording_gets_the_stage():
    with recording() as outer:
        with recording() as inner:
            with timed("nested"):
                pass
        with timed("outer_only"):
            pass

    assert outer["nested"]["calls"] == 1
    assert inner["nested"]["calls"] == 1
    assert "outer_only" in outer and "outer_only" not in inner


def test_work_timed_elsewhere_is_recorded_as_a_stage():
    """How the offline store's join, which it times itself, reaches the recordings."""
    timing.record("elsewhere", 1.5)
    with recording() as outer:
        with recording() as inner:
            timing.record("elsewhere", 0.25)
        timing.record("elsewhere", 0.5)

    assert inner == {"elsewhere": {"calls": 1, "total_s": 0.25}}
    assert outer == {"elsewhere": {"calls": 2, "total_s": 0.75}}
