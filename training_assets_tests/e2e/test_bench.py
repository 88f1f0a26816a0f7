"""Smoke test of the benchmark command on a tiny sample: it runs, compares and reports."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.measure import Measured, median_run, runs_in_turns
from bench.report import Rows, sample_rows

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BENCH_STEPS = (
    "training_job",
    "training_set",
    "feast_api",
    "baseline_asof",
    "plain_fit",
    "feast_duckdb",
)


@pytest.mark.slow
def test_bench_runs_every_step_and_writes_the_figures(tmp_path: Path):
    out = tmp_path / "r.json"
    command = [
        sys.executable,
        "-m",
        "bench.run",
        "--sizes",
        "3000",
        "--drivers",
        "20",
        "--days",
        "10",
        "--out",
        str(out),
        "--work-dir",
        str(tmp_path),
        "--sample-runs",
        "1",
    ]
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert str(out) in completed.stdout

    results = json.loads(out.read_text())
    assert results["failures"] == []
    measured = {"import_feast": results["import_feast"]}
    entry = results["sizes"]["3000"]
    measured.update({name: entry["steps"][name] for name in BENCH_STEPS})
    for name, step in measured.items():
        assert step["ok"], name
        assert step["wall_s"] > 0, name
        assert step["peak_rss_mib"] > 0, name

    inner = entry["steps"]["training_job"]["inner"]
    dagster_steps = inner["steps"]
    assert {"feature_store", "training_data", "splits", "trained_model"} <= set(dagster_steps)
    for key, step in dagster_steps.items():
        if step["status"] == "success":
            assert step["wall_s"] > 0, key
            assert step["peak_rss_mib"] > 0, key
    assert inner["historical_features_s"] > 0
    # The offline store's own join, which it reports to the pipeline's timings.
    assert 0 < inner["asof_join_s"] <= inner["historical_features_s"]
    training_set = entry["steps"]["training_set"]["inner"]
    assert 0 < training_set["asof_join_s"] <= training_set["historical_features_s"]
    baseline = entry["steps"]["baseline_asof"]["inner"]
    assert baseline["join_s"] > 0
    assert baseline["to_pandas_s"] > 0
    assert baseline["join_to_pandas_s"] == baseline["join_s"] + baseline["to_pandas_s"]
    assert entry["steps"]["feast_duckdb"]["inner"]["join_s"] > 0
    api = entry["steps"]["feast_api"]["inner"]
    assert api["to_df_s"] > 0
    assert api["to_arrow_s"] > 0
    assert api["to_df_rows"] == api["to_arrow_rows"] == entry["n_orders"]
    plain = entry["steps"]["plain_fit"]["inner"]
    assert plain["join_s"] > 0
    assert plain["fit_s"] > 0
    assert plain["total_s"] >= plain["join_s"] + plain["fit_s"]
    assert plain["rows"] == entry["n_orders"]
    assert plain["train_rows"] + plain["test_rows"] == plain["rows"]

    assert all(check["passed"] for check in entry["checks"].values())
    assert {
        "training_data_rows_match_orders",
        "training_data_equals_baseline",
        "feast_duckdb_equals_baseline",
        "feast_api_to_df_rows_match_orders",
        "feast_api_to_arrow_rows_match_orders",
        "plain_fit_rows_match_orders",
    } <= set(entry["checks"])
    alone = entry["steps"]["training_set"]["inner"]
    assert alone["success"]
    assert 0 < alone["build_s"] < alone["step_s"]
    assert alone["write_s"] > 0
    assert alone["historical_features_s"] > 0
    for name in (
        "training_set_build_time_vs_baseline_join",
        "training_set_process_rss_vs_baseline_process_rss",
        "historical_features_time_vs_baseline_join",
        "training_data_step_in_job_time_vs_baseline_join",
        "training_data_step_in_job_rss_vs_baseline_process_rss",
        "feast_api_to_df_time_vs_baseline_join_to_pandas",
        "feast_api_process_rss_vs_baseline_process_rss",
        "feast_api_to_arrow_time_vs_baseline_join",
        "training_job_time_vs_plain_fit_total",
        "training_job_process_rss_vs_plain_fit_process_rss",
    ):
        assert entry["ratios"][name] > 0, name
    # The table shows the new ratios.
    for label in (
        "ratio feast API to_df / baseline + to_pandas",
        "ratio feast API to_arrow / baseline join",
        "ratio training_job / plain join + fit",
    ):
        assert label in completed.stdout, label

    # The sample: first runs, then the compared runs in turns, held against each other by
    # their medians; the script's compared runs judge against the champion its first run made.
    sample = results["sample"]
    assert {"training_job_first_run", "plain_script_first_run"} <= set(sample["steps"])
    first = sample["steps"]["plain_script_first_run"]["inner"]
    assert (first["champion_version"], first["registered_version"]) == (None, 1)
    runs = sample["runs"]
    assert [len(runs["training_job"]), len(runs["plain_script"])] == [1, 1]
    # The same data, code and config: the champion stays, as it does for the job.
    [script_run] = runs["plain_script"]
    assert (script_run["inner"]["champion_version"], script_run["inner"]["registered_version"]) == (
        1,
        1,
    )
    walls = {key: [run["wall_s"] for run in measured] for key, measured in runs.items()}
    assert sample["ratios"]["training_job_time_vs_plain_script"] == (
        walls["training_job"][0] / walls["plain_script"][0]
    )
    assert "training_job, repo unchanged (process)" in completed.stdout
    assert "plain script, champion known (process)" in completed.stdout


# --- the compared runs, without processes ---------------------------------------------------


def measured(name: str, wall_s: float, returncode: int = 0):
    return Measured(name, returncode, wall_s, 1.0, 1.0, 1.0, Path(f"{name}.log"))


def test_runs_are_taken_in_turns_and_stop_at_the_first_failure():
    order: list[str] = []

    def run_of(key, fails_at=None):
        def run(name):
            order.append(name)
            return measured(name, 1.0, returncode=1 if name == fails_at else 0)

        return run

    runs = runs_in_turns(3, {"job": run_of("job"), "script": run_of("script")})
    assert order == ["job_1", "script_1", "job_2", "script_2", "job_3", "script_3"]
    assert [len(found) for found in runs.values()] == [3, 3]

    order.clear()
    runs = runs_in_turns(3, {"job": run_of("job", fails_at="job_2"), "script": run_of("script")})
    assert order == ["job_1", "script_1", "job_2"]
    assert [m.name for m in runs["job"]] == ["job_1", "job_2"]


def test_the_median_run_is_compared_and_a_failed_run_is_reported_instead():
    runs = [measured("a", 3.0), measured("b", 1.0), measured("c", 2.0)]
    assert median_run(runs).name == "c"
    # Of two runs, the median is the slower: a ratio is never flattered by the faster run.
    assert median_run([measured("a", 1.0), measured("b", 2.0)]).name == "b"
    assert median_run([measured("a", 1.0), measured("b", 2.0, returncode=1)]).name == "b"


def test_the_table_names_how_many_runs_a_median_is_of():
    def run(wall_s):
        return {"wall_s": wall_s, "ok": True, "peak_rss_mib": 1.0, "inner": {}}

    sample = {
        "n_orders": 10,
        "steps": {"training_job": run(2.0), "plain_script": run(1.0)},
        "runs": {"training_job": [run(2.0), run(3.0)], "plain_script": [run(1.0)]},
        "ratios": {"training_job_time_vs_plain_script": 2.0},
    }
    rows = Rows()
    sample_rows(rows, sample)
    titles = [row[1] for row in rows.rows]
    assert "training_job, repo unchanged (process, median of 2)" in titles
    assert "plain script, champion known (process)" in titles
    [ratio] = [row for row in rows.rows if row[1] == "ratio training_job / plain script"]
    assert ratio[2] == "2.00x" and "training_job 2.00 / 3.00 s; plain_script 1.00 s" in ratio[4]


# --- the monitoring benchmark ----------------------------------------------------------------


def test_the_monitoring_benchmark_measures_both_sides_on_the_same_answer(tmp_path: Path):
    out = tmp_path / "monitoring.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.monitoring",
            "--predictions",
            "4000",
            "--repeats",
            "1",
            "--out",
            str(out),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    results = json.loads(out.read_text())
    ours, duck = results["ours"], results["duckdb"]
    # Both sides saw the same predictions and labels (and the same RMSE, checked by the run).
    assert ours["predictions"] == duck["predictions"] == 4000
    assert ours["labelled_rows"] == duck["labelled_rows"] > 0
    assert ours["rmse"].keys() == duck["rmse"].keys() == {"champion v1", "challenger v2"}
    assert ours["paired_rows"] == [ours["labelled_rows"] // 2]
    for figure in ("work_s", "peak_rss_mib"):
        assert ours[figure] > 0 and duck[figure] > 0, figure
    assert 0 < ours["bootstrap_s"] < ours["work_s"]
    assert results["ratios"]["work_vs_duckdb"] == ours["work_s"] / duck["work_s"]
    assert "plain DuckDB join and metrics" in completed.stdout
    # The query with AUC gave ours' AUC (checked by the run) for the same parts.
    with_auc = results["duckdb_auc"]
    assert with_auc["auc"].keys() == ours["auc"].keys() == duck["rmse"].keys()
    assert all(0.5 < auc < 1 for auc in with_auc["auc"].values())
    assert results["ratios"]["work_vs_duckdb_with_auc"] == ours["work_s"] / with_auc["work_s"]


def test_the_monitoring_page_shows_the_recorded_results_in_place_of_its_marker():
    from types import SimpleNamespace

    from bench import monitoring

    page = SimpleNamespace(file=SimpleNamespace(src_uri=monitoring.PAGE_NAME))
    shown = monitoring.on_page_markdown(f"before\n{monitoring.MARKER}\nafter", page, None, None)
    recorded = json.loads(monitoring.DATA.read_text())
    assert monitoring.MARKER not in shown
    assert f"{recorded['predictions']:,} logged predictions" in shown
    assert f"{recorded['ratios']['work_vs_duckdb']:.2f}x the time" in shown
