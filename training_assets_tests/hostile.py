"""Files as users' tools write them, with the faults those tools bring: pandas' CSV and parquet
writers, a spreadsheet's "CSV UTF-8" (a byte order mark and CRLF line ends) and its European
export (`;`), two exports pasted together (a header line in the middle), a label kept as
"yes"/"no", driver ids a NaN turned into floats, and stats files with holes in them.

Each builder takes a clean frame (orders or driver stats) and writes its faulty version to
`path`, returning the path; the tests say what the pipeline must make of it."""

from pathlib import Path

import numpy as np
import pandas as pd

ORDER_COLUMNS = ["event_timestamp", "driver_id", "trip_completed"]
STATS_COLUMNS = ["datetime", "driver_id", "conv_rate", "acc_rate", "avg_daily_trips", "created"]


def iso(times: pd.Series) -> pd.Series:
    """UTC times as the ISO 8601 text pandas' `to_csv` writes for them."""
    return times.dt.strftime("%Y-%m-%d %H:%M:%S+00:00")


def mixed_time_zones(orders: pd.DataFrame, path: Path) -> tuple[Path, pd.Series]:
    """One CSV whose times are written three ways: with a +01:00 offset, naive (UTC by the
    contract), and with `Z`. Returns the file and the UTC times the contract says it holds."""
    frame = orders[ORDER_COLUMNS].copy()
    utc = frame["event_timestamp"]
    text = iso(utc).astype(object)
    third = np.arange(len(frame)) % 3
    paris = (utc + pd.Timedelta(hours=1)).dt.strftime("%Y-%m-%dT%H:%M:%S+01:00")
    text[third == 0] = paris[third == 0]
    text[third == 1] = utc.dt.strftime("%Y-%m-%d %H:%M:%S")[third == 1]
    text[third == 2] = utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ")[third == 2]
    frame["event_timestamp"] = text
    frame.to_csv(path, index=False)
    return path, utc


def with_nulls(orders: pd.DataFrame, column: str, rows: list[int], path: Path) -> Path:
    """A CSV export with `column` empty on `rows`, as pandas writes a missing value."""
    frame = orders[ORDER_COLUMNS].copy().astype({column: object})
    frame.loc[frame.index[rows], column] = None
    frame.to_csv(path, index=False)
    return path


def pasted_exports(orders: pd.DataFrame, path: Path) -> Path:
    """Two CSV exports joined with `cat`: the second one's header line lands mid-file."""
    half = len(orders) // 2
    first = orders[ORDER_COLUMNS].iloc[:half].to_csv(index=False)
    second = orders[ORDER_COLUMNS].iloc[half:].to_csv(index=False)
    path.write_text(first + second)
    return path


def spreadsheet_utf8(orders: pd.DataFrame, path: Path) -> Path:
    """A spreadsheet's "CSV UTF-8": a byte order mark and CRLF line ends."""
    text = orders[ORDER_COLUMNS].to_csv(index=False, lineterminator="\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return path


def semicolons(orders: pd.DataFrame, path: Path) -> Path:
    """A European spreadsheet's CSV: `;` between fields."""
    orders[ORDER_COLUMNS].to_csv(path, sep=";", index=False)
    return path


def yes_no_labels(orders: pd.DataFrame, path: Path) -> Path:
    """The label kept as "yes"/"no" text, as a form or a CRM export writes it."""
    frame = orders[ORDER_COLUMNS].copy()
    frame["trip_completed"] = frame["trip_completed"].map({1: "yes", 0: "no"})
    frame.to_csv(path, index=False)
    return path


def float_driver_ids(orders: pd.DataFrame, path: Path) -> Path:
    """Driver ids written as 1001.0, as pandas writes an integer column that held a NaN."""
    frame = orders[ORDER_COLUMNS].copy().astype({"driver_id": "float64"})
    frame.to_csv(path, index=False)
    assert ".0," in path.read_text().splitlines()[1]
    return path


def at_times(orders: pd.DataFrame, times: list[str], path: Path) -> Path:
    """The orders with their first rows' times replaced by `times`, as text."""
    frame = orders[ORDER_COLUMNS].copy()
    text = iso(frame["event_timestamp"]).astype(object)
    text.iloc[: len(times)] = times
    frame["event_timestamp"] = text
    frame.to_csv(path, index=False)
    return path


def shifted(orders: pd.DataFrame, by: pd.Timedelta, path: Path) -> Path:
    """Every order moved by `by`, written as parquet."""
    frame = orders[ORDER_COLUMNS].copy()
    frame["event_timestamp"] = frame["event_timestamp"] + by
    frame.to_parquet(path, index=False)
    return path


def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def header_only(path: Path) -> Path:
    """What pandas writes for a frame with the columns and no rows."""
    pd.DataFrame(columns=ORDER_COLUMNS).to_csv(path, index=False)
    return path


def stats_with_nulls(stats: pd.DataFrame, column: str, share: float, path: Path) -> Path:
    """The stats file with `column` null on a seeded `share` of its rows."""
    frame = stats[STATS_COLUMNS].copy()
    rows = np.random.default_rng(5).random(len(frame)) < share
    if column in ("driver_id", "avg_daily_trips"):
        frame[column] = frame[column].astype("Int64")
    frame.loc[rows, column] = None
    frame.to_parquet(path, index=False)
    return path


def stats_without(stats: pd.DataFrame, column: str, path: Path) -> Path:
    stats[STATS_COLUMNS].drop(columns=[column]).to_parquet(path, index=False)
    return path


def rewritten_hours(
    stats: pd.DataFrame, orders: pd.DataFrame, path: Path
) -> tuple[Path, pd.DataFrame]:
    """The driver-hours that `orders` fall in, written twice: the correction (written a
    minute after the original, `avg_daily_trips` 777) comes first in the file and the stale
    version last, as an appending writer that sorts by hour leaves them. Returns the file and
    the corrections."""
    frame = stats[STATS_COLUMNS].copy()
    hours = pd.MultiIndex.from_arrays(
        [orders["driver_id"], orders["event_timestamp"].dt.floor("h")]
    )
    picked = pd.MultiIndex.from_frame(frame[["driver_id", "datetime"]]).isin(hours)
    corrections = frame[picked].assign(
        avg_daily_trips=777, created=frame.loc[picked, "created"] + pd.Timedelta(minutes=1)
    )
    combined = pd.concat([corrections, frame[~picked], frame[picked]], ignore_index=True)
    combined.to_parquet(path, index=False)
    return path, corrections


def created_before_datetime(stats: pd.DataFrame, path: Path) -> Path:
    """Every row stamped `created` a day earlier than it was, so before the hour it describes
    (a forecast, or a writer's clock set wrong); the versions of an hour keep their order."""
    frame = stats[STATS_COLUMNS].copy()
    frame["created"] = frame["created"] - pd.Timedelta(days=1)
    assert (frame["created"] < frame["datetime"]).all()
    frame.to_parquet(path, index=False)
    return path


def text_times_mixed_offsets(stats: pd.DataFrame, path: Path) -> Path:
    """`datetime` and `created` as ISO text, alternately with +02:00 and Z, as a stats table
    that went through a spreadsheet comes back: the same instants, written two ways."""
    frame = stats[STATS_COLUMNS].copy()
    odd = np.arange(len(frame)) % 2 == 1
    for column in ("datetime", "created"):
        utc = frame[column]
        text = utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype(object)
        plus_two = (utc + pd.Timedelta(hours=2)).dt.strftime("%Y-%m-%dT%H:%M:%S+02:00")
        text[odd] = plus_two[odd]
        frame[column] = text
    frame.to_parquet(path, index=False)
    return path
