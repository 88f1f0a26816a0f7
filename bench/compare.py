"""Comparing: the steps' outputs against the baseline's, and their figures against the baselines'.

The checks (`check_size`) make the command fail: `training_data` and the Feast duckdb store's
output must equal the hand-written ASOF join row for row, and every result must have one row
per order. The ratios (`ratios`, `sample_ratios`) are the figures the targets are read on.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL

TRAINING_DATA_STEP = "training_data"


@dataclass
class Outputs:
    """Where one size's joins were written, and whether the steps that wrote them succeeded."""

    baseline: Path
    feast_duckdb: Path
    baseline_ok: bool = False
    feast_duckdb_ok: bool = False


def features_of(path: Path, columns: list[str]) -> pd.DataFrame:
    return pq.read_table(path, columns=columns).to_pandas()


def compare(expected: pd.DataFrame, actual: pd.DataFrame, columns: list[str]) -> dict:
    """Row-for-row equality of `columns`, NaN equal to NaN, in order."""
    report: dict = {"rows_expected": len(expected), "rows_actual": len(actual)}
    if len(expected) != len(actual):
        report["equal"] = False
        return report
    mismatched = np.zeros(len(expected), dtype=bool)
    per_column = {}
    for column in columns:
        a = expected[column].to_numpy(dtype="float64", na_value=np.nan)
        b = actual[column].to_numpy(dtype="float64", na_value=np.nan)
        differs = ~((a == b) | (np.isnan(a) & np.isnan(b)))
        per_column[column] = int(differs.sum())
        mismatched |= differs
    report["mismatched_rows"] = int(mismatched.sum())
    report["mismatched_by_column"] = per_column
    if mismatched.any():
        report["first_mismatched_row"] = int(np.flatnonzero(mismatched)[0])
    report["equal"] = not mismatched.any()
    return report


def check_rows(entry: dict, failures: list[str], size: int, name: str, found: int, want: int):
    entry["checks"][name] = {"passed": found == want, "rows": found, "orders": want}
    if found != want:
        failures.append(f"size {size}: {name}: {found} rows for {want} orders")


def check_equal(entry: dict, failures: list[str], size: int, name: str, report: dict):
    entry["checks"][name] = {"passed": report["equal"], **report}
    if not report["equal"]:
        failures.append(f"size {size}: {name} failed: {json.dumps(report)}")


def check_size(entry: dict, failures: list[str], size: int, area: Path, outputs: Outputs) -> None:
    """Every check of one size, kept under entry["checks"]; a failed one is noted in
    `failures`."""
    n_orders = entry["n_orders"]
    # Correctness: the baseline has one row per order; training_data and the Feast duckdb
    # store's output equal it row for row.
    if outputs.baseline_ok:
        check_against_baseline(entry, failures, size, area, outputs)
    # The public API's two results and the plain fit's join: one row per order.
    api = entry["steps"].get("feast_api", {})
    if api.get("ok"):
        for result in ("to_df", "to_arrow"):
            name = f"feast_api_{result}_rows_match_orders"
            found = api["inner"][f"{result}_rows"]
            check_rows(entry, failures, size, name, found, n_orders)
    plain = entry["steps"]["plain_fit"]
    if plain["ok"]:
        found = plain["inner"]["rows"]
        check_rows(entry, failures, size, "plain_fit_rows_match_orders", found, n_orders)


def check_against_baseline(
    entry: dict, failures: list[str], size: int, area: Path, outputs: Outputs
) -> None:
    """The baseline's rows against the orders; training_data's and the Feast duckdb store's
    features against the baseline's."""
    n_orders = entry["n_orders"]
    # The features the baseline's own query joins, which the sample's feature service names.
    columns = [
        name
        for name in pq.read_schema(outputs.baseline).names
        if name not in ("pos", ENTITY_KEY, EVENT_TIMESTAMP, LABEL)
    ]
    expected = features_of(outputs.baseline, ["driver_id", *columns])
    check_rows(entry, failures, size, "baseline_rows_match_orders", len(expected), n_orders)
    # Compared even when a later step of the run failed: the area is fresh, so its one
    # run folder is this run's.
    written = sorted((area / "assets" / "runs").glob(f"*/{TRAINING_DATA_STEP}.parquet"))
    training_data = written[0] if written else area / "assets" / "runs"
    if written:
        actual = features_of(training_data, ["driver_id", *columns])
        check_rows(entry, failures, size, "training_data_rows_match_orders", len(actual), n_orders)
        check_equal(
            entry,
            failures,
            size,
            "training_data_equals_baseline",
            compare(expected, actual, ["driver_id", *columns]),
        )
    else:
        failures.append(f"size {size}: training_job wrote no {training_data}")
    if outputs.feast_duckdb_ok:
        actual = features_of(outputs.feast_duckdb, columns)
        check_equal(
            entry,
            failures,
            size,
            "feast_duckdb_equals_baseline",
            compare(expected, actual, columns),
        )


def ratios(entry: dict) -> dict:
    """The project's training set and job against raw DuckDB and sklearn, for time and RSS.

    The training-set targets are read on the step run alone in its own process
    (`training_set`): time of the build (orders read to joined table, the output's write
    excluded as the baseline's is) and of the Feast join within it, against the baseline's
    join; peak RSS of that process, imports included, against the baseline process's
    high-water mark at the end of its join (the baseline then converts its table to pandas,
    which a step that ends in an Arrow table does not do). The same step inside the full job
    is reported beside them.

    Feast's public API (`feast_api`): `.to_df()` against the baseline's join and conversion to
    pandas, with the process peaks (both hold a DataFrame); `.to_arrow()` against the join.

    The whole job: `training_job`'s process wall time (imports, Dagster, the gates, MLflow
    logging and registration included) against `plain_fit`'s join + fit, which is the least
    any job has to do; its process peak RSS against `plain_fit`'s process peak.
    """
    steps = entry["steps"]
    out: dict[str, float] = {}
    pipeline = steps.get("training_job", {})
    plain = steps.get("plain_fit", {})
    if pipeline.get("ok") and plain.get("ok"):
        out["training_job_time_vs_plain_fit_total"] = pipeline["wall_s"] / plain["inner"]["total_s"]
        out["training_job_process_rss_vs_plain_fit_process_rss"] = (
            pipeline["peak_rss_mib"] / plain["peak_rss_mib"]
        )
    baseline = steps.get("baseline_asof", {})
    if not baseline.get("ok"):
        return out
    join_s = baseline["inner"]["join_s"]
    baseline_rss = baseline["inner"]["max_rss_after_join_mib"]
    api = steps.get("feast_api", {})
    if api.get("ok"):
        out.update(feast_api_ratios(api, baseline, join_s))
    out.update(training_set_ratios(steps.get("training_set", {}), join_s, baseline_rss))
    step = pipeline.get("inner", {}).get("steps", {}).get(TRAINING_DATA_STEP, {})
    if step.get("status") == "success":
        out["training_data_step_in_job_time_vs_baseline_join"] = step["wall_s"] / join_s
        out["training_data_step_in_job_rss_vs_baseline_process_rss"] = (
            step["peak_rss_mib"] / baseline_rss
        )
        out["training_job_process_rss_vs_baseline_process_rss"] = (
            pipeline["peak_rss_mib"] / baseline_rss
        )
    return out


def feast_api_ratios(api: dict, baseline: dict, join_s: float) -> dict[str, float]:
    """Feast's public API, a successful run, against the baseline's."""
    return {
        "feast_api_to_df_time_vs_baseline_join_to_pandas": (
            api["inner"]["to_df_s"] / baseline["inner"]["join_to_pandas_s"]
        ),
        "feast_api_process_rss_vs_baseline_process_rss": (
            api["peak_rss_mib"] / baseline["peak_rss_mib"]
        ),
        "feast_api_to_arrow_time_vs_baseline_join": api["inner"]["to_arrow_s"] / join_s,
    }


def training_set_ratios(alone: dict, join_s: float, baseline_rss: float) -> dict[str, float]:
    """The training_data step run alone against the baseline's join, when it succeeded."""
    inner = alone.get("inner", {})
    if not (alone.get("ok") and inner.get("build_s") is not None):
        return {}
    out = {
        "training_set_build_time_vs_baseline_join": inner["build_s"] / join_s,
        "training_set_step_time_vs_baseline_join": inner["step_s"] / join_s,
        "training_set_process_rss_vs_baseline_process_rss": (alone["peak_rss_mib"] / baseline_rss),
    }
    if "historical_features_s" in inner:
        out["historical_features_time_vs_baseline_join"] = inner["historical_features_s"] / join_s
    if "asof_join_s" in inner:
        out["asof_offline_store_join_time_vs_baseline_join"] = inner["asof_join_s"] / join_s
    return out


def sample_ratios(job_wall_s: float, script_wall_s: float) -> dict[str, float]:
    """On the default sample: the job's median run against the plain script's."""
    return {"training_job_time_vs_plain_script": job_wall_s / script_wall_s}
