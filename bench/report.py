"""Printing: the line of each step as it ends, and the table of a whole run's results.

`table` reads nothing but a run's results (as results.json holds them), so that the docs'
benchmark page (`bench.page`) prints the same table from the recorded run.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.measure import Measured

# The table's ratio rows: label, time ratio key, RSS ratio key, note.
RATIO_ROWS = [
    (
        "ratio training set build / baseline",
        "training_set_build_time_vs_baseline_join",
        "training_set_process_rss_vs_baseline_process_rss",
        "target <= 1.5x: step alone, time without its write vs join; RSS of the processes",
    ),
    (
        "ratio historical_features / baseline join",
        "historical_features_time_vs_baseline_join",
        None,
        "the join through Feast's API, in the step alone",
    ),
    (
        "ratio training_data step in job / baseline",
        "training_data_step_in_job_time_vs_baseline_join",
        "training_data_step_in_job_rss_vs_baseline_process_rss",
        "with its write; RSS of the job's process during the step",
    ),
    (
        "ratio feast API to_df / baseline + to_pandas",
        "feast_api_to_df_time_vs_baseline_join_to_pandas",
        "feast_api_process_rss_vs_baseline_process_rss",
        "target <= 1.5x: to_df() vs join + to_pandas(); RSS of the processes",
    ),
    (
        "ratio feast API to_arrow / baseline join",
        "feast_api_to_arrow_time_vs_baseline_join",
        None,
        "to_arrow(), the second call in its process",
    ),
    (
        "ratio training_job / plain join + fit",
        "training_job_time_vs_plain_fit_total",
        "training_job_process_rss_vs_plain_fit_process_rss",
        "target <= 2x at 100M: job process wall vs join + fit; RSS of the processes",
    ),
]

Row = tuple[str, str, str, str, str]


def print_measured(label: str, measured: "Measured") -> None:
    status = "ok" if measured.ok else "FAILED"
    print(
        f"  {label:<14} {status:<6} {measured.wall_s:8.2f} s {measured.peak_rss_mib:9.0f} MiB",
        flush=True,
    )


def ratio_rows(size: str, ratios_: dict) -> list[Row]:
    rows = []
    for label, time_key, rss_key, note in RATIO_ROWS:
        if time_key in ratios_ or rss_key in ratios_:
            time_cell = f"{ratios_[time_key]:.2f}x" if time_key in ratios_ else ""
            rss_cell = f"{ratios_[rss_key]:.2f}x" if rss_key in ratios_ else ""
            rows.append((size, label, time_cell, rss_cell, note))
    return rows


def job_note(measured: dict) -> str:
    """A training_job process's note: failed, or stopped by the model gates it names."""
    inner = measured["inner"]
    if inner.get("outcome") == "blocked_by_model_gates":
        return "stopped by " + ", ".join(inner["failed_checks"])
    return "" if measured["ok"] else "FAILED"


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


class Rows:
    """The table's rows, in the order they are added."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, size, step, wall=None, rss=None, note="") -> None:
        self.rows.append((str(size), step, fmt(wall, ".2f"), fmt(rss, ".0f"), note))

    def process(self, size, title: str, measured: dict, note: str | None = None) -> dict:
        """The row of a measured child process and of its imports; returns its own figures."""
        inner = measured["inner"]
        if note is None:
            note = "" if measured["ok"] else "FAILED"
        self.add(size, title, measured["wall_s"], measured["peak_rss_mib"], note)
        self.add(size, "  imports", inner.get("imports_s"))
        return inner


def table(results: dict) -> str:
    """One row per measured step and size: wall s, peak RSS MiB, and the ratios."""
    rows = Rows()
    feast = results.get("import_feast")
    if feast:
        rows.add("-", "import feast (process)", feast["wall_s"], feast["peak_rss_mib"])
        rows.add("-", "  import feast (inside)", feast["inner"].get("import_s"))
    for size, entry in results["sizes"].items():
        size_rows(rows, size, entry)
    sample = results.get("sample")
    if sample:
        sample_rows(rows, sample)
    return aligned(rows.rows)


def size_rows(rows: Rows, size: str, entry: dict) -> None:
    """The rows of one size: each step's, the ratios', and the checks'."""
    steps = entry["steps"]
    generated = steps.get("generate")
    if generated:
        note = f"{entry.get('n_stats_rows', '?')} stats rows"
        rows.add(
            size, "generate data (process)", generated["wall_s"], generated["peak_rss_mib"], note
        )
    for key, rows_of in (
        ("training_job", job_rows),
        ("training_set", training_set_rows),
        ("feast_api", feast_api_rows),
        ("baseline_asof", baseline_rows),
        ("plain_fit", plain_fit_rows),
        ("feast_duckdb", feast_duckdb_rows),
    ):
        if steps.get(key):
            rows_of(rows, size, steps[key])
    rows.rows += ratio_rows(size, entry.get("ratios") or {})
    failed_checks = [name for name, c in entry.get("checks", {}).items() if not c["passed"]]
    passed = [name for name, c in entry.get("checks", {}).items() if c["passed"]]
    if passed or failed_checks:
        note = "all passed" if not failed_checks else "FAILED: " + ", ".join(failed_checks)
        rows.rows.append(
            (size, f"checks ({len(passed)}/{len(passed) + len(failed_checks)})", "", "", note)
        )


def job_rows(rows: Rows, size: str, pipeline: dict) -> None:
    inner = rows.process(size, "training_job (process)", pipeline, job_note(pipeline))
    rows.add(size, "  execute_in_process", inner.get("execute_s"))
    by_start = sorted(
        inner.get("steps", {}).items(), key=lambda kv: kv[1].get("start_offset_s", 1e18)
    )
    for key, step in by_start:
        status = step.get("status", "")
        rows.add(
            size,
            f"  step {key}",
            step.get("wall_s"),
            step.get("peak_rss_mib"),
            "" if status == "success" else status,
        )
    rows.add(size, "    FeastResource.historical_features", inner.get("historical_features_s"))
    rows.add(size, "    AsofDuckDBOfflineStore join", inner.get("asof_join_s"))
    calls = sorted(inner.get("calls", {}).items(), key=lambda kv: -kv[1]["total_s"])
    # The work around the join, where it adds up; the JSON has every call.
    for label, call in (kv for kv in calls if kv[1]["total_s"] >= 0.1):
        rows.add(size, f"  in calls: {label}", call["total_s"], None, f"{call['calls']} call(s)")


def training_set_rows(rows: Rows, size: str, alone: dict) -> None:
    inner = rows.process(size, "training_data alone (process)", alone)
    rows.add(size, "  step training_data", inner.get("step_s"), inner.get("step_peak_rss_mib"))
    rows.add(size, "    build (step without the write)", inner.get("build_s"))
    rows.add(size, "    FeastResource.historical_features", inner.get("historical_features_s"))
    rows.add(size, "    AsofDuckDBOfflineStore join", inner.get("asof_join_s"))
    rows.add(size, "    write training_data.parquet", inner.get("write_s"))


def feast_api_rows(rows: Rows, size: str, api: dict) -> None:
    inner = rows.process(size, "feast API (process)", api)
    rows.add(
        size,
        "  get_historical_features().to_df()",
        inner.get("to_df_s"),
        inner.get("max_rss_after_to_df_mib"),
        "RSS: high-water mark after it",
    )
    rows.add(
        size,
        "  get_historical_features().to_arrow()",
        inner.get("to_arrow_s"),
        inner.get("max_rss_after_to_arrow_mib"),
    )


def baseline_rows(rows: Rows, size: str, baseline: dict) -> None:
    inner = rows.process(size, "baseline ASOF (process)", baseline)
    rows.add(
        size,
        "  baseline join only",
        inner.get("join_s"),
        inner.get("max_rss_after_join_mib"),
        "RSS: high-water mark after it",
    )
    rows.add(
        size,
        "  to_pandas()",
        inner.get("to_pandas_s"),
        inner.get("max_rss_after_to_pandas_mib"),
    )
    rows.add(size, "  join + to_pandas()", inner.get("join_to_pandas_s"))


def plain_fit_rows(rows: Rows, size: str, plain: dict) -> None:
    inner = rows.process(size, "plain join + fit (process)", plain)
    rows.add(size, "  join", inner.get("join_s"), inner.get("max_rss_after_join_mib"))
    rows.add(size, "  to pandas + hold-out split", inner.get("prepare_s"))
    rows.add(size, "  ElasticNet pipeline fit", inner.get("fit_s"))
    r2 = inner.get("test_r2")
    note = "" if r2 is None else f"test R^2 {r2:.3f}"
    rows.add(size, "  total (join to fitted model)", inner.get("total_s"), None, note)


def feast_duckdb_rows(rows: Rows, size: str, duck: dict) -> None:
    note = "" if duck["ok"] else duck.get("killed") or "FAILED"
    rows.add(size, "feast duckdb store (process)", duck["wall_s"], duck["peak_rss_mib"], note)
    rows.add(size, "  feast duckdb join only", duck["inner"].get("join_s"))


def sample_rows(rows: Rows, sample: dict) -> None:
    """The sample's rows: the job's runs and the plain script's, and the ratio of their
    medians."""
    label = f"sample {sample.get('n_orders', '?')}"
    runs = {
        key: [run["wall_s"] for run in measured] for key, measured in sample.get("runs", {}).items()
    }

    def median_of(key: str) -> str:
        if not sample["steps"].get(key, {}).get("ok"):
            return ", FAILED"
        return f", median of {len(runs[key])}" if len(runs.get(key, [])) > 1 else ""

    for name, title in (
        ("training_job_first_run", "training_job, first run (process)"),
        ("training_job", f"training_job, repo unchanged (process{median_of('training_job')})"),
    ):
        job = sample["steps"].get(name)
        if not job:
            continue
        inner = rows.process(label, title, job, job_note(job))
        rows.add(label, "  execute_in_process", inner.get("execute_s"))
        feature_store = inner.get("steps", {}).get("feature_store", {})
        if feature_store.get("wall_s") is not None:
            rows.add(label, "  step feature_store", feature_store["wall_s"])
    for name, title in (
        ("plain_script_first_run", "plain script, first run (process)"),
        ("plain_script", f"plain script, champion known (process{median_of('plain_script')})"),
    ):
        script = sample["steps"].get(name)
        if not script:
            continue
        note = None
        if script["ok"] and script["inner"].get("registered_version") is None:
            note = "no version registered"
        inner = rows.process(label, title, script, note)
        rows.add(label, "  work", inner.get("work_s"))
    ratio = (sample.get("ratios") or {}).get("training_job_time_vs_plain_script")
    if ratio is not None:
        rows.rows.append(sample_ratio_row(label, ratio, runs))


def sample_ratio_row(label: str, ratio: float, runs: dict[str, list[float]]) -> Row:
    return (
        label,
        "ratio training_job / plain script",
        f"{ratio:.2f}x",
        "",
        "target <= 1.2x: the job's runs with the repo unchanged vs the script's, "
        "medians of runs in turns ("
        + "; ".join(
            f"{key} " + " / ".join(f"{wall:.2f}" for wall in walls) + " s"
            for key, walls in runs.items()
        )
        + ")",
    )


def aligned(rows: list[Row]) -> str:
    """The rows under their header, in columns."""
    header = ("orders", "step", "wall s", "peak RSS MiB", "note")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for i, row in enumerate([header, *rows]):
        cells = [
            row[0].rjust(widths[0]),
            row[1].ljust(widths[1]),
            row[2].rjust(widths[2]),
            row[3].rjust(widths[3]),
            row[4],
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
