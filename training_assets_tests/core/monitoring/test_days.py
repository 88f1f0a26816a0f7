"""The serving side's days: the UTC day of the event time, whatever zone a writer used."""

from datetime import date

import pandas as pd
import pytest

from training_assets.core import paths, settings
from training_assets.core.data.sample_data import SampleSpec, driver_stats, orders
from training_assets.core.monitoring import days
from training_assets.core.monitoring.prediction_log import ParquetSink
from training_assets.core.monitoring.sinks import PredictionSinkError, prediction_sink


def test_first_day_is_the_earliest_day_of_the_sample_orders():
    spec = SampleSpec(n_orders=2_000, n_drivers=5)
    sample = orders(spec, driver_stats(spec))
    assert days.event_days(sample["event_timestamp"]).min() == days.FIRST_DAY


def test_a_day_is_the_utc_day_of_the_event_time_at_midnight_and_across_zones():
    times = pd.Series(
        [
            "2025-12-11T00:00:00+00:00",  # the first instant of the 11th
            "2025-12-10T23:59:59.999999+00:00",  # the last of the 10th
            "2025-12-11T00:30:00+01:00",  # 23:30 UTC on the 10th
            "2025-12-10T19:30:00-05:00",  # 00:30 UTC on the 11th
        ]
    )
    found = days.event_days(pd.to_datetime(times, utc=True, format="ISO8601"))
    tenth, eleventh = date(2025, 12, 10), date(2025, 12, 11)
    assert found.tolist() == [eleventh, tenth, tenth, eleventh]
    start, end = days.day_bounds(date(2025, 12, 11))
    assert (start, end) == (
        pd.Timestamp("2025-12-11", tz="UTC"),
        pd.Timestamp("2025-12-12", tz="UTC"),
    )


def test_covered_days_leave_out_and_count_what_no_partition_holds():
    times = pd.to_datetime(
        pd.Series(
            ["2025-12-01T10:00Z", "2025-12-09T00:00Z", "2025-12-20T23:59Z", "2099-01-01T00:00Z"]
        ),
        utc=True,
    )
    first, last, outside = days.covered_days(times, last=date(2026, 12, 7))
    assert (first, last, outside) == (date(2025, 12, 9), date(2025, 12, 20), 2)
    assert days.covered_days(times[:1], last=date(2026, 12, 7)) == (None, None, 1)


def test_lookback_is_the_window_ending_on_the_newest_day():
    assert days.lookback(date(2026, 1, 2), 3) == [
        date(2025, 12, 31),
        date(2026, 1, 1),
        date(2026, 1, 2),
    ]


def test_the_sink_is_chosen_from_the_location(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.WORKING_AREA_ENV, str(tmp_path / "var"))
    monkeypatch.delenv(settings.PREDICTION_LOG_URL_ENV, raising=False)
    assert isinstance(prediction_sink(None), ParquetSink)
    assert prediction_sink(None).root == (tmp_path / "var" / "predictions").resolve()
    assert prediction_sink(str(tmp_path)).root == tmp_path
    with pytest.raises(PredictionSinkError, match="'s3'"):
        prediction_sink("s3://bucket/predictions")
    # The server's variable moves the readers' default too: the production profile's table.
    monkeypatch.setenv(settings.PREDICTION_LOG_URL_ENV, "postgresql://user@db/predictions")
    assert type(prediction_sink(None)).__name__ == "PostgresSink"
    assert isinstance(prediction_sink(str(tmp_path)), ParquetSink)
