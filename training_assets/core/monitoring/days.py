"""The days of the serving side: predictions, their outcomes and the live quality are kept per
UTC day of the request's event time (not of when it was scored), so that a day's labels, which
carry the same event time, meet its predictions in one partition.
"""

from datetime import date, timedelta

import pandas as pd

from training_assets.core.data.sample_data import SampleSpec, first_order_day

# The first day a serving partition exists for: the earliest order of the default sample. A
# request before it is counted as outside the partitions and not scored by a partitioned run.
FIRST_DAY: date = first_order_day(SampleSpec())


def event_days(times: pd.Series) -> pd.Series:
    """The UTC day of each time, as `date`s; a naive time is UTC by the data contract."""
    utc = pd.to_datetime(times, utc=True)
    return utc.dt.tz_convert("UTC").dt.date


def day_bounds(day: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The day's first instant and the next day's first, in UTC: [start, end)."""
    start = pd.Timestamp(day, tz="UTC")
    return start, start + pd.Timedelta(days=1)


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def lookback(newest: date, window_days: int) -> list[date]:
    """The `window_days` days that end with `newest`, oldest first."""
    return days_between(newest - timedelta(days=window_days - 1), newest)


def covered_days(
    times: pd.Series, first: date = FIRST_DAY, last: date | None = None
) -> tuple[date | None, date | None, int]:
    """The first and last day of `times` within [first, last] (default last: today, UTC), and
    how many times fall outside it; (None, None, count) when none fall within."""
    last = last or pd.Timestamp.now(tz="UTC").date()
    days = event_days(times.dropna())
    inside = days[(days >= first) & (days <= last)]
    outside = len(times) - len(inside)
    if inside.empty:
        return None, None, outside
    return inside.min(), inside.max(), outside
