"""The docs site's benchmark page, written from a benchmark run's results and nothing else.

    python -m bench.page                                   # rewrite docs/benchmarks.md
    python -m bench.page --record bench/results/results.json --note "what ran, where"

`bench/results/` is not versioned, so the run the page shows is kept as
`docs/data/benchmark_results.json`: `--record` copies a run's `results.json` there, with the
date, the commit and a note on the machine, and rewrites the page. The table is the one
`python -m bench.run` prints (`bench.report.table`), and the targets are computed from the same
figures, so every number on the page is the output of a run. mkdocs.yml loads this module as
a hook: the site's page is rendered from the data file at build time, whatever
docs/benchmarks.md holds, and a test checks that the committed page is this module's output.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

from bench.report import table

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA = PROJECT_ROOT / "docs" / "data" / "benchmark_results.json"
PAGE = PROJECT_ROOT / "docs" / "benchmarks.md"
PAGE_NAME = "benchmarks.md"


def size_label(size: int) -> str:
    """1000000 as 1M, 100000 as 100k: the sizes as the targets name them."""
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return f"{size:,}"


def in_size_order(results: dict) -> dict:
    """The results with their sizes smallest first (results.json keeps them sorted as text)."""
    sizes = sorted(results.get("sizes", {}).items(), key=lambda kv: int(kv[0]))
    return {**results, "sizes": dict(sizes)}


def job_rows(results: dict) -> list[tuple[str, str]]:
    """The whole job's targets at the largest size: its peak, against the size before, and
    its time against the plain join and fit."""
    sizes = [int(size) for size in results.get("sizes", {})]
    if not sizes:
        return []
    largest = max(sizes)
    entry = results["sizes"][str(largest)]
    job = entry["steps"].get("training_job")
    if not job:
        return []
    label = size_label(largest)
    steps = job["inner"].get("steps", {})
    peak_step = max(steps, key=lambda name: steps[name].get("peak_rss_mib") or 0, default="?")
    peak = job["peak_rss_mib"]
    done = "trained, gated and registered" if job["ok"] else "FAILED"
    rows = [
        (
            f"{label} orders through the whole `training_job`, peak RSS under 12 GB",
            f"{done} in {job['wall_s']:.0f} s; peak {peak:,.0f} MiB "
            f"({peak / 1024:.1f} GiB, in `{peak_step}`)",
        )
    ]
    # The target: ten times the orders in under twice the memory.
    tenth = results["sizes"].get(str(largest // 10), {}).get("steps", {}).get("training_job")
    if tenth:
        other = size_label(largest // 10)
        rows.append(
            (
                f"... and under 2x the peak at {other}",
                f"{tenth['peak_rss_mib']:,.0f} MiB at {other}: {peak / tenth['peak_rss_mib']:.2f}x",
            )
        )
    ratio = entry.get("ratios", {}).get("training_job_time_vs_plain_fit_total")
    plain = entry["steps"].get("plain_fit", {}).get("inner", {})
    if ratio is not None:
        rows.append(
            (
                f"full `training_job` at {label} within 2x of the plain baseline (join and fit)",
                f"{ratio:.2f}x ({job['wall_s']:.2f} s against {plain['total_s']:.2f} s)",
            )
        )
    return rows


def sample_rows(results: dict) -> list[tuple[str, str]]:
    """The default sample's targets: the job against the plain script, and feature_store."""
    sample = results.get("sample")
    if not sample:
        return []
    rows = []
    ratio = sample.get("ratios", {}).get("training_job_time_vs_plain_script")
    job, script = sample["steps"].get("training_job"), sample["steps"].get("plain_script")
    if ratio is not None and job and script:
        runs = len(sample.get("runs", {}).get("training_job", [])) or 1
        rows.append(
            (
                "`training_job` on the default sample within 1.2x of the plain script",
                f"{ratio:.2f}x (medians of {runs} runs each, in turns: "
                f"{job['wall_s']:.2f} s against {script['wall_s']:.2f} s)",
            )
        )
    unchanged = (job or {}).get("inner", {}).get("steps", {}).get("feature_store", {})
    first = sample["steps"].get("training_job_first_run", {}).get("inner", {})
    applied = first.get("steps", {}).get("feature_store", {})
    if unchanged.get("wall_s") is not None:
        also = ""
        if applied.get("wall_s") is not None:
            also = f"{applied['wall_s']:.2f} s when it applies the repo to a fresh registry; "
        rows.append(
            (
                "`feature_store` under a second when the repo is unchanged",
                f"{unchanged['wall_s']:.2f} s ({also}`import feast` is counted with the "
                "process's imports)",
            )
        )
    return rows


def target_rows(results: dict) -> list[tuple[str, str]]:
    """Each target with what the run measured against it."""
    rows = job_rows(results)
    to_df = [
        f"{entry['ratios']['feast_api_to_df_time_vs_baseline_join_to_pandas']:.2f}x "
        f"at {size_label(int(size))}"
        for size, entry in results.get("sizes", {}).items()
        if "feast_api_to_df_time_vs_baseline_join_to_pandas" in entry.get("ratios", {})
    ]
    if to_df:
        rows.append(
            (
                "`get_historical_features(...).to_df()` within 1.5x of the ASOF join plus "
                "`to_pandas()`",
                ", ".join(to_df),
            )
        )
    return rows + sample_rows(results)


def render(results: dict) -> str:
    """The whole page, in Markdown."""
    results = in_size_order(results)
    recorded = results.get("recorded") or {}
    lines = [
        "<!-- Generated by `python -m bench.page` from docs/data/benchmark_results.json; "
        "do not edit. -->",
        "",
        "# Benchmarks",
        "",
        "The figures of the last recorded run of `python -m bench.run`. What each row measures "
        "and how the targets are read is in [Architecture](architecture.md#scale); to record a "
        'new run, `python -m bench.page --record bench/results/results.json --note "..."`.',
        "",
    ]
    if recorded:
        lines += ["## The run", ""]
        for key in ("command", "machine", "date", "commit", "source"):
            if recorded.get(key):
                lines.append(f"- {key}: {recorded[key]}")
        lines.append("")
        lines += [f"{note}\n" for note in recorded.get("notes", [])]
    failures = results.get("failures") or []
    if failures:
        lines += ["**The run failed:**", ""] + [f"- `{failure}`" for failure in failures] + [""]
    rows = target_rows(results)
    if rows:
        lines += ["## Against the targets", "", "| target | measured |", "|---|---|"]
        lines += [f"| {target} | {measured} |" for target, measured in rows]
        lines.append("")
    lines += ["## The table", "", "```", table(results), "```", ""]
    return "\n".join(lines)


def record(results_path: Path, note: str) -> dict:
    """A run's results.json with where it came from, as the data file keeps it."""
    results = json.loads(results_path.read_text())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    config = results.get("config", {})
    results["recorded"] = {
        "command": "python -m bench.run --sizes " + " ".join(map(str, config.get("sizes", []))),
        "machine": f"{config.get('cpus', '?')} cores, {config.get('memory_mib', '?')} MiB",
        "date": datetime.date.today().isoformat(),
        "commit": commit or "unknown",
        "source": f"results.json of the run ({results_path.name})",
        "notes": [note] if note else [],
    }
    return in_size_order(results)


# mkdocs hook: the built page is always rendered from the data file.
def on_page_read_source(page, config) -> str | None:  # noqa: ARG001 - mkdocs' signature
    if page.file.src_uri == PAGE_NAME:
        return render(json.loads(DATA.read_text()))
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.page", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--record", type=Path, help="a run's results.json to keep as the data")
    parser.add_argument("--note", default="", help="with --record: the machine's load, the run")
    args = parser.parse_args(argv)
    if args.record is not None:
        if not args.record.is_file():
            parser.error(f"{args.record}: no such results file; run python -m bench.run first")
        DATA.parent.mkdir(parents=True, exist_ok=True)
        DATA.write_text(json.dumps(record(args.record, args.note), indent=2) + "\n")
    PAGE.write_text(render(json.loads(DATA.read_text())))
    print(f"wrote {PAGE.relative_to(PROJECT_ROOT)} from {DATA.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
