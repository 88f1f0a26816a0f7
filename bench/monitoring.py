"""Time and memory of a day's outcomes and live quality beside a plain DuckDB join of the same
files plus the same metrics.

    python -m bench.monitoring [--predictions 1000000] [--labelled-share 0.7] [--repeats 3]
                               [--out bench/results/monitoring.json] [--record]

In a fresh working area: one day of `--predictions` logged predictions in the prediction log's
parquet layout (half answered by the champion, half the same requests scored in shadow by a
challenger, as batch scoring writes them), and orders files holding the labels of a share of
those requests plus as many orders of other days. Then, each in a child process of its own
(its peak RSS is its own):

- ours: what `prediction_outcomes` and `live_model_quality` compute for the day (read the
  day's log, the columns the outcomes keep, the day's labels batch by batch from the orders,
  `join_outcomes`, `model_quality`, and the paired comparison with its bootstrap), DuckDB
  imported before its clock starts, as on the other side;
- DuckDB's: one query over the same files that joins each logged prediction with its label
  and computes, per part and version, the rows, labelled rows, label rate, mean prediction,
  RMSE, MAE, Brier score and log loss (not AUC, which SQL has no aggregate for, nor the
  bootstrap, nor the latest score of each prediction or the last label of each request),
  with DuckDB's defaults, DuckDB imported before its clock starts;
- DuckDB's with AUC: the same query computing AUC as well (the Mann-Whitney statistic from
  the labelled rows' ranks, ties averaged), the one metric of ours it left out.

Both queries must give ours' RMSE (and the second ours' AUC) to 1e-9, or the run fails.

Neither side reads the served features' drift, which `live_model_quality` reads from the log.

The issue's goal: ours within 2x of DuckDB's time, with memory bounded. `--record` keeps the
results as docs/data/monitoring_results.json, rendered into docs/monitoring.md when the docs
are built (this module is an mkdocs hook: the page holds a marker, never the figures).
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = PROJECT_ROOT / "bench" / "results" / "monitoring.json"
DATA = PROJECT_ROOT / "docs" / "data" / "monitoring_results.json"
PAGE_NAME = "monitoring.md"
MARKER = "<!-- monitoring benchmark table -->"
DAY = date(2026, 1, 15)
GOAL_RATIO = 2.0
# Each measured in a child process of its own: ours, the plain query, the query with AUC.
SIDES = ("ours", "duckdb", "duckdb_auc")


def prepare(area: Path, predictions: int, labelled_share: float, seed: int = 7) -> None:
    """The day's log under `area/predictions` and the orders under `area/orders`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from training_assets.core.monitoring.prediction_log import LOG_SCHEMA, ParquetSink

    rng = np.random.default_rng(seed)
    requests = predictions // 2
    start = np.datetime64(DAY.isoformat(), "us")
    # Distinct request times within the day: one request per driver and microsecond.
    times = start + np.sort(rng.choice(86_400_000_000, requests, replace=False)).astype(
        "timedelta64[us]"
    )
    drivers = rng.integers(1001, 6001, requests)
    truth = rng.uniform(0, 1, requests)
    features = [f'{{"conv_rate": {v:.6f}, "acc_rate": 0.5, "avg_daily_trips": 12}}' for v in truth]
    scored_at = np.full(requests, start + np.timedelta64(86_400, "s"))
    sink = ParquetSink(area / "predictions")
    # As batch scoring writes them: one run (writer) logs the champion's answers, then the
    # challenger's scores of the same requests, its sequence numbers running on.
    for part, (role, version, noise) in enumerate((("champion", 1, 0.2), ("challenger", 2, 0.1))):
        guess = np.clip(truth + rng.normal(0, noise, requests), 0.001, 0.999)
        table = pa.table(
            {
                "prediction_id": [f"{role[:2]}{i:09d}" for i in range(requests)],
                "source": ["batch"] * requests,
                "role": [role] * requests,
                "driver_id": drivers,
                "event_timestamp": pa.array(times, pa.timestamp("us", tz="UTC")),
                "model_name": ["bench"] * requests,
                "model_version": np.full(requests, version),
                "features": features,
                "features_found": np.ones(requests, dtype=bool),
                "prediction": guess,
                "scored_at": pa.array(scored_at, pa.timestamp("us", tz="UTC")),
                "writer": ["batch-bench-run"] * requests,
                "sequence": np.arange(1, requests + 1) + part * requests,
            },
            schema=LOG_SCHEMA,
        )
        sink.write(table)
    labelled = rng.uniform(0, 1, requests) < labelled_share
    label = (rng.uniform(0, 1, requests) < truth).astype("int64")
    orders = area / "orders"
    orders.mkdir(parents=True)
    day_orders = pa.table(
        {
            "event_timestamp": pa.array(
                times[labelled].astype("datetime64[ns]"), pa.timestamp("ns", tz="UTC")
            ),
            "driver_id": drivers[labelled],
            "trip_completed": label[labelled],
        }
    )
    pq.write_table(day_orders, orders / "labels.parquet")
    # As many orders again on the days before: read, and left out of the day's join.
    other = int(labelled.sum())
    before = (
        start
        - np.timedelta64(1, "D")
        - rng.integers(0, 20 * 86_400, other).astype("timedelta64[s]")
    )
    pq.write_table(
        pa.table(
            {
                "event_timestamp": pa.array(
                    before.astype("datetime64[ns]"), pa.timestamp("ns", tz="UTC")
                ),
                "driver_id": rng.integers(1001, 6001, other),
                "trip_completed": rng.integers(0, 2, other),
            }
        ),
        orders / "earlier.parquet",
    )


def ours(area: Path) -> dict:
    """The day as the monitoring assets compute it; timings by stage."""
    started = time.perf_counter()
    # As the other side does, before the clock: the join imports it when it first runs.
    import duckdb  # noqa: F401

    from training_assets.core.data.orders import list_orders, open_orders
    from training_assets.core.monitoring.outcomes import (
        LOGGED_COLUMNS,
        join_outcomes,
        labels_of_day,
    )
    from training_assets.core.monitoring.prediction_log import ParquetSink
    from training_assets.core.monitoring.quality import model_quality, paired_comparisons

    imported = time.perf_counter()
    logged = ParquetSink(area / "predictions").read(DAY, columns=LOGGED_COLUMNS)
    labels = labels_of_day(open_orders(list_orders(area / "orders")).tables(), DAY)
    read = time.perf_counter()
    joined, counts = join_outcomes(logged, labels)
    joined_at = time.perf_counter()
    models = model_quality(joined)
    scored = time.perf_counter()
    comparisons = paired_comparisons(joined, 1000, seed=int(DAY.strftime("%Y%m%d")))
    done = time.perf_counter()
    return {
        "imports_s": imported - started,
        "read_s": read - imported,
        "join_s": joined_at - read,
        "metrics_s": scored - joined_at,
        "bootstrap_s": done - scored,
        "work_s": done - imported,
        "work_without_bootstrap_s": scored - imported,
        "predictions": counts.predictions,
        "labelled_rows": counts.labelled_rows,
        "rmse": {f"{m.role} v{m.model_version}": m.rmse for m in models},
        "auc": {f"{m.role} v{m.model_version}": m.auc for m in models},
        "paired_rows": [c.paired_rows for c in comparisons],
    }


# The day's logged predictions and the orders' labels of the day, for both queries.
SOURCES = """
WITH logged AS (
    SELECT role, model_version, driver_id, event_timestamp, prediction
    FROM read_parquet('{log}/*.parquet')
),
labels AS (
    SELECT driver_id, CAST(event_timestamp AS TIMESTAMPTZ) AS event_timestamp,
           CAST(trip_completed AS DOUBLE) AS label
    FROM read_parquet('{orders}/*.parquet')
    WHERE CAST(event_timestamp AS TIMESTAMPTZ) >= TIMESTAMPTZ '{day} 00:00:00+00'
      AND CAST(event_timestamp AS TIMESTAMPTZ) < TIMESTAMPTZ '{day} 00:00:00+00' + INTERVAL 1 DAY
),
joined AS (
    SELECT * FROM logged LEFT JOIN labels USING (driver_id, event_timestamp)
)"""
SCORES = """
SELECT role, model_version, count(*) AS rows, count(label) AS labelled_rows,
       avg(label) AS label_rate, avg(prediction) AS mean_prediction,
       sqrt(avg(CASE WHEN label IS NOT NULL THEN (prediction - label) ^ 2 END)) AS rmse,
       avg(CASE WHEN label IS NOT NULL THEN abs(prediction - label) END) AS mae,
       avg(CASE WHEN label IS NOT NULL THEN (prediction - label) ^ 2 END) AS brier,
       -avg(label * ln(greatest(least(prediction, 1 - 1e-15), 1e-15))
            + (1 - label) * ln(1 - greatest(least(prediction, 1 - 1e-15), 1e-15))) AS log_loss
FROM joined GROUP BY role, model_version"""
QUERY = f"{SOURCES}{SCORES} ORDER BY role, model_version"
# The same with AUC as well, the one metric of ours SQL has no aggregate for: the
# Mann-Whitney statistic from the labelled rows' ranks within their part and version, tied
# predictions given their average rank.
AUC_QUERY = f"""{SOURCES},
clipped AS (
    -- Read as probabilities as ours reads them: clipped 1e-6 inside [0, 1].
    SELECT role, model_version, label, greatest(least(prediction, 1 - 1e-6), 1e-6) AS p
    FROM joined WHERE label IS NOT NULL AND prediction IS NOT NULL
),
ranked AS (
    SELECT role, model_version, label,
           rank() OVER (PARTITION BY role, model_version ORDER BY p)
           + (count(*) OVER (PARTITION BY role, model_version, p) - 1) / 2.0 AS r
    FROM clipped
),
auc AS (
    SELECT role, model_version,
           (sum(r) FILTER (label = 1)
            - count(*) FILTER (label = 1) * (count(*) FILTER (label = 1) + 1) / 2.0)
           / (count(*) FILTER (label = 1) * count(*) FILTER (label = 0)) AS auc
    FROM ranked GROUP BY role, model_version
),
scores AS ({SCORES})
SELECT scores.*, auc.auc FROM scores JOIN auc USING (role, model_version)
ORDER BY role, model_version
"""


def plain_duckdb(area: Path, with_auc: bool = False) -> dict:
    started = time.perf_counter()
    import duckdb

    imported = time.perf_counter()
    log = area / "predictions" / f"day={DAY.isoformat()}"
    query = (AUC_QUERY if with_auc else QUERY).format(
        log=log, orders=area / "orders", day=DAY.isoformat()
    )
    rows = duckdb.sql(query).fetchall()
    done = time.perf_counter()
    return {
        "imports_s": imported - started,
        "work_s": done - imported,
        "predictions": sum(row[2] for row in rows),
        "labelled_rows": sum(row[3] for row in rows),
        "rmse": {f"{row[0]} v{row[1]}": row[6] for row in rows},
        **({"auc": {f"{row[0]} v{row[1]}": row[-1] for row in rows}} if with_auc else {}),
    }


def child(side: str, area: Path) -> dict:
    """One side in a process of its own, with its peak RSS."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.monitoring", "--child", side, "--work-dir", str(area)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.splitlines()[-1])


def run(args: argparse.Namespace, work: Path) -> dict:
    started = time.perf_counter()
    prepare(work, args.predictions, args.labelled_share)
    prepared_s = time.perf_counter() - started
    # Each side `repeats` times, in turn, each time in a fresh process: the run of median
    # work time stands for the side, so one slow run on a shared machine does not.
    runs = {side: [] for side in SIDES}
    for _ in range(args.repeats):
        for side in SIDES:
            runs[side].append(child(side, work))
    measured = {
        side: sorted(found, key=lambda run: run["work_s"])[len(found) // 2]
        for side, found in runs.items()
    }
    ours_figures, duck, duck_auc = measured["ours"], measured["duckdb"], measured["duckdb_auc"]
    # The same answers, or the comparison means nothing.
    for metric, query in (("rmse", duck), ("rmse", duck_auc), ("auc", duck_auc)):
        for name, figure in ours_figures[metric].items():
            if figure is None and query[metric][name] is None:
                continue  # no score for a part without both labels, on either side
            if (
                figure is None
                or query[metric][name] is None
                or abs(figure - query[metric][name]) > 1e-9
            ):
                raise AssertionError(
                    f"{metric} of {name}: ours {figure}, DuckDB's {query[metric][name]}"
                )
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "predictions": args.predictions,
        "labelled_share": args.labelled_share,
        "repeats": args.repeats,
        "prepare_s": prepared_s,
        "ours": ours_figures,
        "duckdb": duck,
        "duckdb_auc": duck_auc,
        "ratios": {
            "work_vs_duckdb_with_auc": ours_figures["work_s"] / duck_auc["work_s"],
            "work_vs_duckdb": ours_figures["work_s"] / duck["work_s"],
            "work_without_bootstrap_vs_duckdb": ours_figures["work_without_bootstrap_s"]
            / duck["work_s"],
            "peak_rss_vs_duckdb": ours_figures["peak_rss_mib"] / duck["peak_rss_mib"],
        },
        "goal_ratio": GOAL_RATIO,
    }


def render(results: dict) -> str:
    """The page's table: both sides' time and memory, and the ratios against the goal."""
    ours_figures, duck, ratios = results["ours"], results["duckdb"], results["ratios"]
    lines = [
        f"One day of {results['predictions']:,} logged predictions, "
        f"{results['labelled_share']:.0%} of their requests labelled, on "
        f"{results['machine']['cpus']} cores, the median of {results.get('repeats', 1)} runs "
        "of each side (`python -m bench.monitoring --record`):",
        "",
        "| | work s | peak RSS MiB |",
        "|---|---|---|",
        f"| outcomes and live quality (ours) | {ours_figures['work_s']:.2f} | "
        f"{ours_figures['peak_rss_mib']:.0f} |",
        "| of which the paired comparison and its bootstrap | "
        f"{ours_figures['bootstrap_s']:.2f} | |",
        f"| plain DuckDB join and metrics | {duck['work_s']:.2f} | {duck['peak_rss_mib']:.0f} |",
        f"| the same with AUC by ranks | {results['duckdb_auc']['work_s']:.2f} | "
        f"{results['duckdb_auc']['peak_rss_mib']:.0f} |",
        "",
        f"Ours against DuckDB's: {ratios['work_vs_duckdb']:.2f}x the time "
        f"({ratios['work_without_bootstrap_vs_duckdb']:.2f}x without the bootstrap, which "
        f"the query does not do), {ratios['peak_rss_vs_duckdb']:.2f}x the memory; against "
        f"the query that computes AUC too, {ratios['work_vs_duckdb_with_auc']:.2f}x the time. "
        f"The goal is at most {results['goal_ratio']:.0f}x the time.",
    ]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 - mkdocs'
    """mkdocs hook: the recorded results' table in place of the marker on the monitoring
    page."""
    if page.file.src_uri != PAGE_NAME or MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render(json.loads(DATA.read_text())))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.monitoring", description=__doc__)
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--labelled-share", type=float, default=0.7)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each side; the median one is kept"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--work-dir", type=Path, default=None, help="kept when given")
    parser.add_argument(
        "--record", action="store_true", help=f"also write {DATA.relative_to(PROJECT_ROOT)}"
    )
    parser.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.predictions < 2:
        parser.error("--predictions must be at least 2")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not 0 < args.labelled_share <= 1:
        parser.error("--labelled-share must be in (0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        figures = (
            ours(args.work_dir)
            if args.child == "ours"
            else plain_duckdb(args.work_dir, with_auc=args.child == "duckdb_auc")
        )
        figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
        return 0
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
    try:
        results = run(args, work)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    if args.record:
        DATA.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
