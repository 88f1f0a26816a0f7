"""Benchmark of the training pipeline and its point-in-time join against raw DuckDB and sklearn.

    python -m bench.run [--sizes 100000 1000000 10000000] [--drivers 1000] [--days 90]
                        [--out bench/results/results.json] [--work-dir DIR] [--no-sample]

For each size, the project's generator writes orders and hourly driver stats into a fresh
working area (its own TRAINING_ASSETS_HOME). Then, each in its own child process so that peak
RSS is per step and imports are counted:

- `training_job`, executed in-process on a temporary local Dagster instance, with the wall
  time and peak RSS of each Dagster step and the time of the Feast join inside `training_data`;
- `training_data` materialized alone, as a run worker would run that step: the training-set
  build whose time (without its output's write) and process peak RSS are held against the
  baseline's;
- the training set as the course's code and notebooks build it with Feast's public API
  (`feast_api`): a `FeatureStore` on the project's repo with its default settings, on the
  registry `training_job` applied, the orders read with pandas, and
  `get_historical_features(...)` timed to a DataFrame (`.to_df()`) and, in a second call, to
  an Arrow table (`.to_arrow()`);
- a hand-written DuckDB ASOF join of the same files (the baseline for `training_data`), whose
  conversion of the joined table to pandas is timed apart (the baseline for `.to_df()`);
- the same raw join followed by the project's ElasticNet fit on a 0.2 hold-out, in one plain
  process (`plain_fit`: the baseline for the whole `training_job`);
- at the smallest size only, the same join through Feast's built-in `duckdb` offline store.

`import feast` alone is measured once. Unless `--no-sample`, `training_job` is also held
against a plain single-process script doing the same work (`bench.plain_script`) on the
generator's default sample data: the job's first run applies the feature repo; then the job,
finding the repo unchanged as the script then does, and the script run in turns, three times
each, and the medians are compared.

The command exits non-zero when a child fails or when an output differs from the baseline:
`training_data` must have one row per order and the baseline's features row for row; so must
the Feast duckdb store's output. Both of `feast_api`'s results and `plain_fit`'s join must
have one row per order.

Wall time of a process runs from spawn to exit. Peak RSS is the larger of the kernel's
high-water mark of the child (wait4's ru_maxrss) and the largest sum of RSS over the child's
process tree, sampled every 50 ms. Peak RSS of a Dagster step is sampled inside the child.
Sizes in MiB.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.measure import MIB, PROJECT_ROOT, new_results, run_all
from bench.report import table

DEFAULT_OUT = PROJECT_ROOT / "bench" / "results" / "results.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.strip().splitlines()[0]
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000, 10_000_000],
        help="numbers of orders, one run per size (default: 100000 1000000 10000000)",
    )
    parser.add_argument("--drivers", type=int, default=1_000, help="drivers with stats")
    parser.add_argument("--days", type=int, default=90, help="days of hourly stats")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument(
        "--sample-runs",
        type=int,
        default=3,
        help="compared runs of training_job and of the plain script on the sample, in turns "
        "(default 3; their medians are compared)",
    )
    parser.add_argument(
        "--no-sample",
        action="store_true",
        help="skip training_job against the plain script on the default sample data",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where the working areas go (kept); default a temporary directory, removed after",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="kill a child after this many seconds"
    )
    total_mib = psutil.virtual_memory().total / MIB
    parser.add_argument(
        "--max-rss-mb",
        type=float,
        default=0.85 * total_mib,
        help="kill a child whose process tree exceeds this RSS in MiB (default 85%% of RAM)",
    )
    args = parser.parse_args(argv)
    if any(size <= 0 for size in args.sizes):
        parser.error("sizes must be positive")
    if args.sample_runs <= 0:
        parser.error("--sample-runs must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sorted(set(args.sizes))
    temporary = None
    if args.work_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="training-assets-bench-")
        work = Path(temporary.name)
    else:
        work = args.work_dir.resolve()
        work.mkdir(parents=True, exist_ok=True)

    results = new_results(args, sizes, work)
    started = time.perf_counter()
    try:
        run_all(args, sizes, work, results)
    finally:
        results["total_s"] = time.perf_counter() - started
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, sort_keys=True))
        if temporary is not None:
            temporary.cleanup()

    print()
    print(table(results))
    print()
    for warning in results["warnings"]:
        print(f"warning: {warning}")
    failures = results["failures"]
    if failures:
        print(f"{len(failures)} failure(s):", file=sys.stderr)
        for failure in failures:
            print(f"- {failure}", file=sys.stderr)
    print(f"Results written to {args.out.resolve()}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
