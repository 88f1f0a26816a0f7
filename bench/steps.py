"""What each measured child process of `bench.run` runs: `python -m bench.steps STEP --result F`.

Every step writes its inner figures (times measured inside the process, after its imports) as
JSON to `--result`. The parent measures the process from the outside: wall time from spawn to
exit, and peak RSS. Only the standard library is imported at module level, so each step pays
for exactly the imports it needs, and `import_feast` measures `import feast` alone.
"""

import argparse
import importlib
import json
import os
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

STARTED = time.perf_counter()
MIB = 1024 * 1024
# The asset whose blocking checks are the model gates.
MODEL_GATE_ASSET = "evaluation"
# The features the baseline's query joins (the sample's feature service's), and the label.
BASELINE_FEATURES = ("conv_rate", "acc_rate", "avg_daily_trips")
LABEL_COLUMN = "trip_completed"
# The plain fit's hold-out share, the project's default.
PLAIN_TEST_SIZE = 0.2


def max_rss_mib() -> float:
    """This process's RSS high-water mark so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_result(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=True))


# --- import feast alone -------------------------------------------------------------------


def import_feast(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    import feast

    return {"import_s": time.perf_counter() - started, "feast_version": feast.__version__}


# --- (a) the project's training_job -------------------------------------------------------


class RssSampler:
    """Samples this process's RSS and RSS high-water mark every `interval` seconds."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.samples: list[tuple[float, float, float]] = []  # (unix time, rss MiB, max MiB)
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        rss = self._process.memory_info().rss / MIB
        self.samples.append((time.time(), rss, max_rss_mib()))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def peak_between(self, start: float, end: float) -> float | None:
        """Peak RSS in [start, end]: the high-water mark if it rose in the window, else the
        largest sample taken in the window."""
        if not self.samples:
            return None
        before = [s for s in self.samples if s[0] <= start]
        after = [s for s in self.samples if s[0] >= end]
        inside = [s[1] for s in self.samples if start <= s[0] <= end]
        hwm_start = before[-1][2] if before else 0.0
        hwm_end = after[0][2] if after else self.samples[-1][2]
        if hwm_end > hwm_start:
            return hwm_end
        if inside:
            return max(inside)
        # A window shorter than the sampling interval: the RSS around it.
        return max(s[1] for s in (before[-1:] + after[:1])) if (before or after) else None


def join_figures(calls: dict[str, dict]) -> dict[str, float]:
    """The point-in-time join's seconds inside the training_data step, from the pipeline's own
    timings: the resource call as a whole, and the offline store's DuckDB query within it."""
    figures = {}
    for label, key in (
        ("historical_features", "historical_features_s"),
        ("asof_join", "asof_join_s"),
    ):
        if label in calls:
            figures[key] = calls[label]["total_s"]
    return figures


def step_figures(instance, run_id: str, sampler: RssSampler) -> tuple[dict, dict]:
    """Wall time and peak RSS of each step of a run, from its events; and the failed steps."""
    from dagster import DagsterEventType

    starts: dict[str, float] = {}
    steps: dict[str, dict] = {}
    failed_steps: dict[str, dict] = {}
    ends = {
        DagsterEventType.STEP_SUCCESS: "success",
        DagsterEventType.STEP_FAILURE: "failure",
    }
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif event.event_type in ends and entry.step_key in starts:
            start = starts[entry.step_key]
            steps[entry.step_key] = {
                "status": ends[event.event_type],
                "start_offset_s": start - sampler.samples[0][0],
                "wall_s": entry.timestamp - start,
                "peak_rss_mib": sampler.peak_between(start, entry.timestamp),
            }
            if event.event_type == DagsterEventType.STEP_FAILURE:
                error = event.step_failure_data.error
                failed_steps[entry.step_key] = {
                    "error": error.cls_name if error else None,
                    "message": (error.message if error else "").strip()[:2000],
                }
        elif event.event_type == DagsterEventType.STEP_SKIPPED:
            steps[entry.step_key] = {"status": "skipped"}
    return steps, failed_steps


def project_instance_home(home: Path) -> Path:
    """`home`, made a DAGSTER_HOME with the instance config the project ships (unless it has
    one), so that runs are measured as `DAGSTER_HOME=dagster_home` runs them."""
    from training_assets.core import paths

    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(paths.PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home


def pipeline(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    # In the order `dagster job execute` takes: Dagster, then the code location. Then Feast,
    # which `feature_store` would import on first use: as in `training_set`, the steps' times
    # are their work, and the imports are counted once, here; the process's wall time is the
    # same either way.
    from dagster import DagsterInstance

    from training_assets.core import timing
    from training_assets.definitions import defs

    importlib.import_module("feast")

    imports_s = time.perf_counter() - started

    with (
        timing.recording() as calls,
        RssSampler() as sampler,
        DagsterInstance.local_temp(str(project_instance_home(args.dagster_home))) as instance,
    ):
        job = defs.resolve_job_def("training_job")
        t = time.perf_counter()
        # Not raise_on_error: a run that a model gate stopped is still measured and reported.
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        execute_s = time.perf_counter() - t
        steps, failed_steps = step_figures(instance, result.run_id, sampler)

    checks = {
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}": evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }
    failed_checks = sorted(name for name, passed in checks.items() if not passed)
    # A model gate (a blocking check on `evaluation`) stopping registration is the pipeline
    # doing its job on a noisy sample; any other failed step or gate is a failure.
    blocked_only = (
        bool(failed_steps)
        and all(name.startswith(f"{MODEL_GATE_ASSET}:") for name in failed_checks)
        and all(
            failure["error"] == "DagsterAssetCheckFailedError" for failure in failed_steps.values()
        )
    )
    if result.success:
        outcome = "success"
    elif blocked_only:
        outcome = "blocked_by_model_gates"
    else:
        outcome = "failed"
    return {
        "imports_s": imports_s,
        "execute_s": execute_s,
        "run_id": result.run_id,
        "success": result.success,
        "outcome": outcome,
        "exit_code": 1 if outcome == "failed" else 0,
        "failed_steps": failed_steps,
        "checks": checks,
        "failed_checks": failed_checks,
        "steps": steps,
        "calls": calls,
        **join_figures(calls),
        "max_rss_end_mib": max_rss_mib(),
    }


# --- (a') the training_data step alone, in a process of its own ---------------------------


def training_set(args: argparse.Namespace) -> dict:
    """Materialize `training_data` alone, as a run worker would: the code location imported,
    on the registry that training_job applied in the working area, no checks.

    Its process is this step's alone, so the process's peak RSS is the step's, imports
    included. `build_s` is the step without writing its output, as the baseline's join time
    is without writing its result.
    """
    started = time.perf_counter()
    # The code location first, as in `pipeline`; then Feast and the offline store, which the
    # step would import on first use: the step's time is measured without library imports,
    # its process's peak RSS with them.
    from dagster import DagsterInstance, materialize

    from training_assets.core import timing
    from training_assets.definitions import defs
    from training_assets.defs.assets import (
        feature_store,
        sources,
        training_data,
    )

    importlib.import_module("feast")
    importlib.import_module("feast_asof.store")

    imports_s = time.perf_counter() - started

    with (
        timing.recording() as calls,
        RssSampler() as sampler,
        DagsterInstance.local_temp(str(project_instance_home(args.dagster_home))) as instance,
    ):
        result = materialize(
            [
                sources.orders,
                sources.driver_stats_source,
                feature_store.feature_store,
                training_data.training_data,
            ],
            selection=[training_data.training_data],
            resources=defs.resources,
            instance=instance,
            raise_on_error=False,
        )
        steps, failed_steps = step_figures(instance, result.run_id, sampler)
    step = steps.get("training_data", {})
    write = calls.get("write training_data.parquet", {}).get("total_s")
    return {
        "imports_s": imports_s,
        "success": result.success,
        "exit_code": 0 if result.success else 1,
        "failed_steps": failed_steps,
        "step_s": step.get("wall_s"),
        "write_s": write,
        "build_s": None if write is None or "wall_s" not in step else step["wall_s"] - write,
        "step_peak_rss_mib": step.get("peak_rss_mib"),
        "calls": calls,
        **join_figures(calls),
    }


# --- (b) the hand-written DuckDB ASOF join ------------------------------------------------


def order_files(location: Path) -> list[Path]:
    """The orders files as the project reads them: the file, or a folder's visible *.parquet."""
    if location.is_file():
        return [location]
    return sorted(
        p for p in location.glob("*.parquet") if p.is_file() and not p.name.startswith((".", "_"))
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def baseline_query(files_with_offsets: list[tuple[Path, int]], stats: Path, ttl_s: int) -> str:
    """Latest-created version per driver-hour, ASOF LEFT JOIN, TTL, input order."""
    orders = " UNION ALL ".join(
        "SELECT CAST(event_timestamp AS TIMESTAMPTZ) AS event_timestamp, driver_id, "
        f"trip_completed, file_row_number + {offset} AS pos "
        f"FROM read_parquet({_literal(str(path))}, file_row_number = true)"
        for path, offset in files_with_offsets
    )
    live = f"s.ts >= o.event_timestamp - INTERVAL {ttl_s} SECOND"
    return (
        f"WITH orders AS ({orders}), "
        "stats AS ("
        "  SELECT driver_id, CAST(datetime AS TIMESTAMPTZ) AS ts, "
        "  conv_rate, acc_rate, avg_daily_trips "
        f"  FROM read_parquet({_literal(str(stats))}) "
        "  QUALIFY row_number() OVER (PARTITION BY driver_id, datetime ORDER BY created DESC) = 1"
        ") "
        "SELECT o.pos, o.event_timestamp, o.driver_id, o.trip_completed, "
        + ", ".join(f"CASE WHEN {live} THEN s.{name} END AS {name}" for name in BASELINE_FEATURES)
        + " FROM orders o ASOF LEFT JOIN stats s "
        "ON o.driver_id = s.driver_id AND o.event_timestamp >= s.ts "
        "ORDER BY o.pos"
    )


def baseline_join(orders: Path, stats: Path, ttl_s: int):
    """The baseline's ASOF join of the orders with the stats: its connection, still open,
    and the joined Arrow table."""
    import duckdb
    import pyarrow.parquet as pq

    files, offset = [], 0
    for path in order_files(orders):
        files.append((path, offset))
        offset += pq.ParquetFile(path).metadata.num_rows
    con = duckdb.connect()
    # SET rather than connect(config=...): the icu extension that holds time zones loads
    # with the first database, too late for the first connection's config.
    con.execute("SET TimeZone = 'UTC'")
    return con, con.sql(baseline_query(files, stats, ttl_s)).to_arrow_table()


def baseline(args: argparse.Namespace) -> dict:
    """The raw ASOF join, then its conversion to pandas, timed apart.

    `join_s` (files to Arrow table) is what the training-set step is held against, which
    also ends in an Arrow table; `join_to_pandas_s` is what a join that ends in a DataFrame,
    as `get_historical_features(...).to_df()` does, is held against. The high-water mark at
    the end of the join is kept apart from the process's peak, which the DataFrame raises.
    pandas, which `to_pandas()` would import on first use, is imported after the join (so
    that the join's high-water mark is without it) and before the conversion is timed; its
    import counts in `imports_s`.
    """
    started = time.perf_counter()
    import duckdb
    import pyarrow.parquet as pq

    imports_s = time.perf_counter() - started

    t = time.perf_counter()
    con, table = baseline_join(args.orders, args.stats, args.ttl_seconds)
    join_s = time.perf_counter() - t
    max_rss_after_join = max_rss_mib()
    con.close()

    t = time.perf_counter()
    import pandas  # noqa: F401

    imports_s += time.perf_counter() - t

    t = time.perf_counter()
    frame = table.to_pandas()
    to_pandas_s = time.perf_counter() - t
    max_rss_after_to_pandas = max_rss_mib()
    del frame

    pq.write_table(table, args.out)
    return {
        "imports_s": imports_s,
        "join_s": join_s,
        "to_pandas_s": to_pandas_s,
        "join_to_pandas_s": join_s + to_pandas_s,
        "rows": table.num_rows,
        "duckdb_version": duckdb.__version__,
        "max_rss_after_join_mib": max_rss_after_join,
        "max_rss_after_to_pandas_mib": max_rss_after_to_pandas,
    }


# --- (b') the raw join and a plain fit: the whole job's work, by hand ----------------------


def plain_fit(args: argparse.Namespace) -> dict:
    """The baseline's join, then the project's model fit on its rows, in one plain process.

    What a training job minimally has to do, for the whole job to be held against: the raw
    ASOF join (`baseline_join`, the same query as `baseline`), the rows to pandas, a seeded
    0.2 hold-out, and ElasticNet with the project's default settings in the project's own
    pipeline (median imputation, scaling; `fit_elastic_net`) fit on the three features ->
    `trip_completed`. A step of its own rather than part of `baseline`, so that the
    baseline's figures stay those of the join and its conversion (the denominators of the
    training-set and `.to_df()` ratios), and this process's peak is that of join and fit
    together, sklearn's import included.

    The hold-out is sklearn's seeded shuffle, as a plain script splits, not the project's
    split strategy. `join_s` is files to Arrow table, `prepare_s` the DataFrame and the
    split, `fit_s` the pipeline's fit alone; `total_s` is all three, timed as one span.
    The test R^2 is scored after that span, untimed, to show the fit is a real one.
    """
    started = time.perf_counter()
    import duckdb
    from sklearn.model_selection import train_test_split

    from training_assets.core.ml.elastic_net import ElasticNetSettings, fit_elastic_net

    imports_s = time.perf_counter() - started

    settings = ElasticNetSettings()
    features = list(BASELINE_FEATURES)
    t_total = time.perf_counter()
    con, table = baseline_join(args.orders, args.stats, args.ttl_seconds)
    join_s = time.perf_counter() - t_total
    max_rss_after_join = max_rss_mib()
    con.close()

    t = time.perf_counter()
    frame = table.to_pandas()
    rows = table.num_rows
    del table
    train_x, test_x, train_y, test_y = train_test_split(
        frame[features],
        frame[LABEL_COLUMN],
        test_size=PLAIN_TEST_SIZE,
        random_state=settings.random_state,
    )
    prepare_s = time.perf_counter() - t

    t = time.perf_counter()
    model = fit_elastic_net(
        train_x, train_y, settings.alpha, settings.l1_ratio, settings.random_state
    )
    fit_s = time.perf_counter() - t
    total_s = time.perf_counter() - t_total
    max_rss_after_fit = max_rss_mib()

    return {
        "imports_s": imports_s,
        "join_s": join_s,
        "prepare_s": prepare_s,
        "fit_s": fit_s,
        "total_s": total_s,
        "rows": rows,
        "train_rows": len(train_x),
        "test_rows": len(test_x),
        "test_r2": float(model.score(test_x, test_y)),
        "model_settings": settings.model_dump(include={"alpha", "l1_ratio", "random_state"}),
        "duckdb_version": duckdb.__version__,
        "max_rss_after_join_mib": max_rss_after_join,
        "max_rss_after_fit_mib": max_rss_after_fit,
    }


# --- (c) the training set through Feast's public API, as a notebook builds it -----------


def feast_api(args: argparse.Namespace) -> dict:
    """The training set as the course's code and notebooks build it with Feast's public API.

    A `FeatureStore` on the project's repo with the default settings (no time-zone override,
    no provenance), on the registry that training_job applied in the working area, at the
    files FeastResource names by default; the orders read with pandas; then
    `get_historical_features(entity_df=orders, features=service)` twice, once to a
    DataFrame (`to_df_s`) and once to an Arrow table (`to_arrow_s`). Each figure is the call
    and its conversion alone, the service's lookup included, after the imports (Feast, the
    repo's offline store, DuckDB) and after the orders are read. The `.to_df()` call runs
    first and pays what a first call pays in a fresh process; the `.to_arrow()` call finds
    the registry loaded. The DataFrame is dropped before the second call, so the process's
    peak is the larger of the two calls', not their sum.
    """
    started = time.perf_counter()
    import duckdb  # noqa: F401
    import feast
    import pandas as pd

    import feast_asof.store  # noqa: F401
    from training_assets.core import paths
    from training_assets.core.features import feast_repo
    from training_assets.core.schema import FEATURE_SERVICE

    imports_s = time.perf_counter() - started

    t = time.perf_counter()
    # The files FeastResource opens on its defaults: where training_job applied the repo.
    feast_dir = paths.default_feast_dir()
    registry = feast_dir / "registry.db"
    if not registry.exists():
        raise FileNotFoundError(f"no applied registry at {registry}; run training_job first")
    store = feast_repo.feature_store(
        paths.feature_repo(), registry=registry, online_store=feast_dir / "online_store.db"
    )
    files = order_files(args.orders)
    frames = [pd.read_parquet(path, columns=["event_timestamp", "driver_id"]) for path in files]
    orders = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    del frames
    setup_s = time.perf_counter() - t

    t = time.perf_counter()
    df = store.get_historical_features(
        entity_df=orders, features=store.get_feature_service(FEATURE_SERVICE)
    ).to_df()
    to_df_s = time.perf_counter() - t
    to_df_rows = len(df)
    max_rss_after_to_df = max_rss_mib()
    del df

    t = time.perf_counter()
    table = store.get_historical_features(
        entity_df=orders, features=store.get_feature_service(FEATURE_SERVICE)
    ).to_arrow()
    to_arrow_s = time.perf_counter() - t
    max_rss_after_to_arrow = max_rss_mib()

    return {
        "imports_s": imports_s,
        "setup_s": setup_s,
        "to_df_s": to_df_s,
        "to_arrow_s": to_arrow_s,
        "orders": len(orders),
        "to_df_rows": to_df_rows,
        "to_arrow_rows": table.num_rows,
        "feature_service": FEATURE_SERVICE,
        "registry": str(registry),
        "offline_store": type(store._get_provider().offline_store).__name__,
        "feast_version": feast.__version__,
        "max_rss_after_to_df_mib": max_rss_after_to_df,
        "max_rss_after_to_arrow_mib": max_rss_after_to_arrow,
    }


# --- (d) Feast's built-in duckdb offline store --------------------------------------------


def feast_duckdb(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    import yaml
    from feast import FeatureStore, RepoConfig

    from training_assets.core import paths
    from training_assets.core.data import orders
    from training_assets.core.ml.table import ORDER_POSITION, with_order_position
    from training_assets.core.schema import FEATURE_SERVICE
    from training_assets.defs.resources.feast import FeastResource

    imports_s = time.perf_counter() - started

    # The repo applied to a registry of its own, then a FeatureStore built as FeastResource
    # builds it, with the offline store switched to Feast's duckdb store.
    args.feast_dir.mkdir(parents=True, exist_ok=True)
    registry = args.feast_dir / "registry.db"
    online = args.feast_dir / "online_store.db"
    t = time.perf_counter()
    resource_ = FeastResource(registry_path=str(registry), online_store_path=str(online))
    resource_.apply()
    repo = resource_.resolved_repo_path()
    raw = yaml.safe_load(os.path.expandvars((repo / "feature_store.yaml").read_text()))
    raw["registry"] = str(registry)
    raw["online_store"] = {**raw.get("online_store", {}), "path": str(online)}
    raw["offline_store"] = {"type": "duckdb"}
    config = RepoConfig(**raw)
    config.repo_path = repo
    store = FeatureStore(config=config)
    entity_df = with_order_position(orders.read_orders(paths.default_orders_path()))
    setup_s = time.perf_counter() - t

    t = time.perf_counter()
    service = store.get_feature_service(FEATURE_SERVICE)
    joined = store.get_historical_features(entity_df=entity_df, features=service).to_df()
    join_s = time.perf_counter() - t
    max_rss_after_join = max_rss_mib()

    position = ORDER_POSITION
    features = resource_.training_schema().feature_names
    out = joined.sort_values(position, kind="stable")[[position, *features]]
    out.to_parquet(args.out, index=False)
    return {
        "imports_s": imports_s,
        "setup_s": setup_s,
        "join_s": join_s,
        "rows": len(joined),
        "offline_store": type(store._get_provider().offline_store).__name__,
        "max_rss_after_join_mib": max_rss_after_join,
    }


STEPS = {
    "import_feast": import_feast,
    "pipeline": pipeline,
    "training_set": training_set,
    "baseline": baseline,
    "plain_fit": plain_fit,
    "feast_api": feast_api,
    "feast_duckdb": feast_duckdb,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--result", type=Path, required=True, help="JSON file for the figures")
    parser.add_argument(
        "--orders", type=Path, help="baseline, plain_fit, feast_api: orders file or folder"
    )
    parser.add_argument("--stats", type=Path, help="baseline, plain_fit: driver stats parquet")
    parser.add_argument(
        "--ttl-seconds", type=int, default=86_400, help="baseline, plain_fit: view TTL"
    )
    parser.add_argument("--out", type=Path, help="baseline, feast_duckdb: joined features")
    parser.add_argument(
        "--dagster-home", type=Path, help="pipeline, training_set: instance directory"
    )
    parser.add_argument("--feast-dir", type=Path, help="feast_duckdb: registry directory")
    args = parser.parse_args(argv)
    result = STEPS[args.step](args)
    result["process_s_to_result"] = time.perf_counter() - STARTED
    result["max_rss_mib"] = max_rss_mib()
    write_result(args.result, result)
    return result.get("exit_code", 0)


if __name__ == "__main__":
    sys.exit(main())
