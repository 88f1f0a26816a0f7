"""A deterministic, seeded generator of driver stats and orders, so nothing is downloaded.

The stats are hourly rows per driver. A share of driver-hours carry a second, stale row with an
earlier `created`, as a late correction would leave behind. `trip_completed` is drawn from a
logistic function of the features that were current at the order's time, plus noise, so a
model can learn something but not everything. A few orders belong to drivers with no stats or
fall before the first stats row, so the join has gaps to handle.

Run `python -m training_assets.core.data.sample_data --help` to write a sample of any size.
"""

import argparse
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training_assets.core import paths
from training_assets.core.data.point_in_time import features_as_of
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    LABEL,
)

STATS_END = pd.Timestamp("2026-01-01", tz="UTC")
FIRST_DRIVER_ID = 1001
UNKNOWN_DRIVER_ID = 9001
# Orders made and written at a time: a 100M-order sample takes one part's memory.
ORDERS_PART = 10_000_000
# Unmatched orders placed before the first stats row fall this long before it.
BEFORE_STATS = pd.Timedelta(days=3)


@dataclass(frozen=True)
class SampleSpec:
    """Sizes and knobs of a generated sample.

    Attributes:
        n_orders: Number of order rows.
        n_drivers: Number of drivers with stats.
        days: Days of hourly stats, ending at STATS_END.
        stale_rate: Share of driver-hours that also carry a stale, earlier-created row.
        unmatched_rate: Share of orders on an unknown driver or before the first stats row.
        seed: Seed of the random generator; the same spec always writes the same files.
    """

    n_orders: int = 5_000
    n_drivers: int = 50
    days: int = 21
    stale_rate: float = 0.01
    unmatched_rate: float = 0.01
    seed: int = 17


def driver_stats(spec: SampleSpec) -> pd.DataFrame:
    """Hourly feature rows per driver, with some stale versions of the same driver-hour."""
    rng = np.random.default_rng(spec.seed)
    hours = pd.date_range(end=STATS_END, periods=spec.days * 24, freq="h")
    drivers = np.arange(FIRST_DRIVER_ID, FIRST_DRIVER_ID + spec.n_drivers, dtype=np.int64)
    n = len(hours) * len(drivers)

    # Each driver has a level; hourly rows wander around it so features vary within a driver.
    conv_level = rng.uniform(0.15, 0.85, spec.n_drivers)
    acc_level = rng.uniform(0.2, 0.95, spec.n_drivers)
    trips_level = rng.uniform(5, 40, spec.n_drivers)
    driver_index = np.repeat(np.arange(spec.n_drivers), len(hours))

    frame = pd.DataFrame(
        {
            ENTITY_KEY: drivers[driver_index],
            "datetime": np.tile(hours.values, len(drivers)),
            "conv_rate": np.clip(conv_level[driver_index] + rng.normal(0, 0.1, n), 0, 1),
            "acc_rate": np.clip(acc_level[driver_index] + rng.normal(0, 0.1, n), 0, 1),
            "avg_daily_trips": np.maximum(
                0, np.rint(trips_level[driver_index] + rng.normal(0, 4, n))
            ),
        }
    )
    # numpy drops the zone from `hours.values`; the instants are UTC.
    frame["datetime"] = frame["datetime"].dt.tz_localize("UTC")
    # Each row sums up the hour up to `datetime` and is written as that hour closes, so no
    # order sees a row that did not exist yet.
    frame["created"] = frame["datetime"]

    # Stale versions: same driver-hour, created earlier, with values that the join must not use.
    n_stale = int(n * spec.stale_rate)
    stale = frame.iloc[rng.choice(n, n_stale, replace=False)].copy()
    stale["created"] = stale["created"] - pd.Timedelta(minutes=4)
    stale["conv_rate"] = rng.uniform(0, 1, n_stale)
    stale["acc_rate"] = rng.uniform(0, 1, n_stale)
    stale["avg_daily_trips"] = rng.integers(0, 60, n_stale).astype(float)

    frame = pd.concat([frame, stale], ignore_index=True)
    frame = frame.sort_values(["datetime", ENTITY_KEY, "created"], kind="stable")
    return frame.astype(
        {"conv_rate": "float32", "acc_rate": "float32", "avg_daily_trips": "int32"}
    ).reset_index(drop=True)


def orders(
    spec: SampleSpec, stats: pd.DataFrame, count: int | None = None, part: int = 0
) -> pd.DataFrame:
    """Orders with a label that depends on the driver's current features plus noise.

    Args:
        count: How many orders; default `spec.n_orders`.
        part: Which part of a sample written in parts; each part has its own random stream,
            and part 0's is the whole sample's, so a sample of one part is as it always was.
    """
    n_orders = spec.n_orders if count is None else count
    rng = np.random.default_rng(spec.seed + 1 if part == 0 else [spec.seed + 1, part])
    start = STATS_END - pd.Timedelta(days=spec.days)
    span_s = int((STATS_END - start).total_seconds())
    drivers = stats[ENTITY_KEY].unique()

    frame = pd.DataFrame(
        {
            EVENT_TIMESTAMP: start + pd.to_timedelta(rng.integers(0, span_s, n_orders), "s"),
            ENTITY_KEY: rng.choice(drivers, n_orders).astype(np.int64),
        }
    )
    unmatched = rng.random(n_orders) < spec.unmatched_rate
    half = unmatched & (rng.random(n_orders) < 0.5)
    frame.loc[half, ENTITY_KEY] = UNKNOWN_DRIVER_ID
    frame.loc[unmatched & ~half, EVENT_TIMESTAMP] = start - BEFORE_STATS

    current = features_as_of(frame, stats)
    # Orders without features get the population mean, so their label is plain noise.
    conv = current["conv_rate"].fillna(0.5).to_numpy()
    acc = current["acc_rate"].fillna(0.55).to_numpy()
    trips = current["avg_daily_trips"].fillna(22.0).to_numpy()
    logit = 4.0 * (conv - 0.5) + 3.0 * (acc - 0.55) + 0.04 * (trips - 22.0)
    logit += rng.normal(0, 0.5, n_orders)
    probability = 1.0 / (1.0 + np.exp(-logit))
    frame[LABEL] = (rng.random(n_orders) < probability).astype(np.int64)
    return frame


def first_order_day(spec: SampleSpec) -> date:
    """The UTC day of the earliest order a sample of `spec` can hold."""
    return (STATS_END - pd.Timedelta(days=spec.days) - BEFORE_STATS).date()


def write_sample(spec: SampleSpec, orders_path: Path, stats_path: Path) -> tuple[int, int]:
    """Write driver stats and orders as parquet; past ORDERS_PART orders, the orders are made
    and written a part at a time, so the generator's memory is one part's.

    Returns:
        The number of order rows and of stats rows written.
    """
    stats = driver_stats(spec)
    _write_parts(stats_path, [stats])
    parts = (
        orders(spec, stats, min(ORDERS_PART, spec.n_orders - start), part)
        for part, start in enumerate(range(0, max(spec.n_orders, 1), ORDERS_PART))
    )
    return _write_parts(orders_path, parts), len(stats)


def _write_parts(path: Path, frames) -> int:
    """Write `frames` one after another as one parquet file, through a temporary sibling."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    rows, writer = 0, None
    try:
        for frame in frames:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                # Microseconds, the unit Spark, BigQuery and DuckDB's own timestamps use: Spark
                # refuses nanosecond parquet times, and the sample's times are whole seconds.
                writer = pq.ParquetWriter(
                    tmp, table.schema, coerce_timestamps="us", allow_truncated_timestamps=False
                )
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=SampleSpec.n_orders)
    parser.add_argument("--drivers", type=int, default=SampleSpec.n_drivers)
    parser.add_argument("--days", type=int, default=SampleSpec.days)
    parser.add_argument("--seed", type=int, default=SampleSpec.seed)
    parser.add_argument("--orders-path", type=Path, default=None)
    parser.add_argument("--driver-stats-path", type=Path, default=None)
    args = parser.parse_args(argv)
    spec = SampleSpec(n_orders=args.orders, n_drivers=args.drivers, days=args.days, seed=args.seed)
    orders_path = args.orders_path or paths.default_sample_orders_file()
    stats_path = args.driver_stats_path or paths.default_driver_stats_path()
    n_orders, n_stats = write_sample(spec, orders_path, stats_path)
    print(f"Wrote {n_orders} orders to {orders_path}")
    print(f"Wrote {n_stats} driver stats rows to {stats_path}")


if __name__ == "__main__":
    main()
