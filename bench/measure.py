"""Measuring: each benchmark step in a child process of its own, timed and its RSS sampled.

`measure` runs one child to completion and returns its wall time and peak RSS with the figures
the child wrote itself; `run_size` and `run_sample` generate a working area and run every step
of one size, or of the default sample, in it. What the steps' figures are held against is
`bench.compare`'s; the lines printed as each step ends are `bench.report`'s.
"""

import argparse
import functools
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pyarrow.parquet as pq

from bench import compare
from bench.report import print_measured

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


@dataclass
class Measured:
    """One child process, measured from the outside, with the figures it wrote itself."""

    name: str
    returncode: int
    wall_s: float
    peak_rss_mib: float
    ru_maxrss_mib: float
    tree_peak_rss_mib: float
    log: Path
    result: dict = field(default_factory=dict)
    killed: str | None = None
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start, at end
    # A child starts with its parent's RSS as its high-water mark (ru_maxrss survives the
    # fork and exec), so a peak at this figure may be the parent's, not the child's.
    parent_rss_at_spawn_mib: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.killed is None

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "returncode": self.returncode,
            "killed": self.killed,
            "wall_s": self.wall_s,
            "peak_rss_mib": self.peak_rss_mib,
            "ru_maxrss_mib": self.ru_maxrss_mib,
            "tree_peak_rss_mib": self.tree_peak_rss_mib,
            "log": str(self.log),
            "load_average_1m_start_end": list(self.load_average),
            "parent_rss_at_spawn_mib": self.parent_rss_at_spawn_mib,
            "inner": self.result,
        }

    def failure(self) -> str:
        why = self.killed or f"exit code {self.returncode}"
        return f"{self.name}: {why}; log {self.log}:\n{tail(self.log)}"


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def tree_rss(root: psutil.Process) -> int | None:
    """The summed RSS in bytes of `root` and its descendants; None once `root` is gone."""
    try:
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    total = 0
    for process in tree:
        try:
            total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


class Sampler:
    """A thread that samples a child's process tree every 50 ms, keeps the peak RSS, and kills
    the child's session once it goes past the limits."""

    def __init__(
        self, name: str, pid: int, started: float, timeout_s: float, max_rss_mib: float
    ) -> None:
        self.pid = pid
        self.started = started
        self.timeout_s = timeout_s
        self.max_rss_mib = max_rss_mib
        self.peak_mib = 0.0
        self.killed: str | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, name=f"sample-{name}", daemon=True)

    def sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.done.is_set():
            total = tree_rss(root)
            if total is None:
                return
            self.peak_mib = max(self.peak_mib, total / MIB)
            elapsed = time.perf_counter() - self.started
            if self.killed is None and (total / MIB > self.max_rss_mib or elapsed > self.timeout_s):
                self.kill(total / MIB, elapsed)
            self.done.wait(0.05)

    def kill(self, rss_mib: float, elapsed: float) -> None:
        self.killed = (
            f"killed at {rss_mib:.0f} MiB RSS, over the {self.max_rss_mib:.0f} MiB limit"
            if rss_mib > self.max_rss_mib
            else f"killed after {elapsed:.0f} s, over the {self.timeout_s:.0f} s limit"
        )
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def measure(
    name: str,
    argv: list[str],
    env: dict[str, str],
    log: Path,
    result_path: Path | None,
    timeout_s: float,
    max_rss_mib: float,
) -> Measured:
    """Run `argv` to completion, sampling its process tree's RSS; kill it past the limits."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    parent_rss = psutil.Process().memory_info().rss / MIB
    with log.open("wb") as out:
        started = time.perf_counter()
        # A session of its own, so that a kill past the limits reaches its children too.
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        sampler = Sampler(name, proc.pid, started, timeout_s, max_rss_mib)
        sampler.start()
        # wait4 rather than Popen.wait: it also returns the child's resource usage.
        _, status, usage = os.wait4(proc.pid, 0)
        wall_s = time.perf_counter() - started
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)

    result: dict = {}
    if result_path is not None and result_path.exists():
        result = json.loads(result_path.read_text())
    ru_maxrss_mib = usage.ru_maxrss / 1024  # KiB on Linux
    return Measured(
        name=name,
        returncode=proc.returncode,
        wall_s=wall_s,
        peak_rss_mib=max(ru_maxrss_mib, sampler.peak_mib),
        ru_maxrss_mib=ru_maxrss_mib,
        tree_peak_rss_mib=sampler.peak_mib,
        log=log,
        result=result,
        killed=sampler.killed,
        load_average=(load_start, os.getloadavg()[0]),
        parent_rss_at_spawn_mib=parent_rss,
    )


def child_env(area: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "TRAINING_ASSETS_HOME"):
        env.pop(name, None)
    if area is not None:
        env["TRAINING_ASSETS_HOME"] = str(area)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return env


@dataclass(frozen=True)
class Children:
    """Where the child processes of one size, or of the sample, run: the working area they
    share, their logs under `root/logs` and the figures they write under `root/results`."""

    root: Path
    area: Path
    env: dict[str, str]
    timeout_s: float
    max_rss_mib: float

    @classmethod
    def fresh(cls, root: Path, args: argparse.Namespace) -> "Children":
        """Children in a new working area under `root`, removing what a former run left."""
        if root.exists():
            shutil.rmtree(root)
        area = root / "area"
        return cls(root, area, child_env(area), args.timeout, args.max_rss_mb)

    def generate(self, *options: str) -> Measured:
        """The project's generator, writing the area's orders and driver stats."""
        argv = [sys.executable, "-m", "training_assets.core.data.sample_data", *options]
        log = self.root / "logs" / "generate.log"
        return measure("generate", argv, self.env, log, None, self.timeout_s, self.max_rss_mib)

    def run(self, name: str, stem: str, command: list[str], *options: str) -> Measured:
        """`python -m <command> --result results/<stem>.json <options>`, logged to
        logs/<stem>.log."""
        result = self.root / "results" / f"{stem}.json"
        argv = [sys.executable, "-m", *command, "--result", str(result), *options]
        log = self.root / "logs" / f"{stem}.log"
        return measure(name, argv, self.env, log, result, self.timeout_s, self.max_rss_mib)

    def step(self, name: str, command: str, *options: str) -> Measured:
        """One of `bench.steps`' commands, its log and result named after the command."""
        return self.run(name, command, ["bench.steps", command], *options)

    def count_orders(self) -> int:
        return sum(
            pq.ParquetFile(path).metadata.num_rows
            for path in sorted((self.area / "data" / "orders").glob("*.parquet"))
        )


# A step's figures kept in its size's (or the sample's) entry: record(key, measured).
Record = Callable[[str, Measured], Measured]


def record_step(
    entry: dict, failures: list[str], label: str, key: str, measured: Measured
) -> Measured:
    """Keep a measured step's figures under `key` in `entry`, print its line, note a failure."""
    entry["steps"][key] = measured.as_json()
    print_measured(key, measured)
    if not measured.ok:
        failures.append(f"{label}: {measured.failure()}")
    return measured


def measure_import_feast(args: argparse.Namespace, work: Path) -> Measured:
    """`import feast` alone, in a process of its own."""
    return measure(
        "import_feast",
        [
            sys.executable,
            "-m",
            "bench.steps",
            "import_feast",
            "--result",
            str(work / "import_feast.json"),
        ],
        child_env(None),
        work / "import_feast.log",
        work / "import_feast.json",
        timeout_s=args.timeout,
        max_rss_mib=args.max_rss_mb,
    )


def new_results(args: argparse.Namespace, sizes: list[int], work: Path) -> dict:
    """A run's results before anything is measured: its settings and the machine's."""
    import duckdb

    return {
        "config": {
            "sizes": sizes,
            "drivers": args.drivers,
            "days": args.days,
            "work_dir": str(work),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_mib": round(psutil.virtual_memory().total / MIB),
            "duckdb": duckdb.__version__,
            "rss_unit": "MiB",
            "peak_rss": "max(wait4 ru_maxrss, sampled process-tree RSS every 50 ms)",
        },
        "sizes": {},
        "failures": [],
        "warnings": [],
    }


def run_all(args: argparse.Namespace, sizes: list[int], work: Path, results: dict) -> None:
    """`import feast` alone, the sample, then each size smallest first, into `results`."""
    failures: list[str] = results["failures"]
    print("import feast")
    feast = measure_import_feast(args, work)
    results["import_feast"] = feast.as_json()
    print_measured("import_feast", feast)
    if not feast.ok:
        failures.append(feast.failure())
    # The sample first: each size's comparisons grow this process, and a child inherits
    # its parent's RSS as the start of its own high-water mark.
    if not args.no_sample:
        results["sample"] = run_sample(args, work, failures)
    for index, size in enumerate(sizes):
        size_started = time.perf_counter()
        entry = run_size(size, index == 0, args, work, failures, results["warnings"])
        entry["end_to_end_s"] = time.perf_counter() - size_started
        results["sizes"][str(size)] = entry
        print(f"size {size}: {entry['end_to_end_s']:.1f} s end to end", flush=True)


def run_size(
    size: int,
    smallest: bool,
    args: argparse.Namespace,
    work: Path,
    failures: list[str],
    warnings: list[str],
) -> dict:
    """Generate, run the measured steps and compare their outputs, for one size."""
    children = Children.fresh(work / f"orders_{size}", args)
    entry: dict = {"working_area": str(children.area), "steps": {}, "checks": {}}
    record = functools.partial(record_step, entry, failures, f"size {size}")

    print(f"size {size}: generating {size} orders, {args.drivers} drivers, {args.days} days")
    generated = record(
        "generate",
        children.generate(
            "--orders", str(size), "--drivers", str(args.drivers), "--days", str(args.days)
        ),
    )
    if not generated.ok:
        return entry
    stats_path = children.area / "data" / "driver_stats.parquet"
    entry["n_orders"] = children.count_orders()
    entry["n_stats_rows"] = pq.ParquetFile(stats_path).metadata.num_rows

    measure_job(children, record, size, warnings)
    outputs = measure_baselines(children, record, smallest)
    compare.check_size(entry, failures, size, children.area, outputs)
    entry["ratios"] = compare.ratios(entry)
    return entry


def measure_job(children: Children, record: Record, size: int, warnings: list[str]) -> None:
    """`training_job`, then, on the registry it applied, the step alone and Feast's API."""
    root = children.root
    pipeline = record(
        "training_job",
        children.step("training_job", "pipeline", "--dagster-home", str(root / "dagster_home")),
    )
    if pipeline.result.get("outcome") == "blocked_by_model_gates":
        warnings.append(
            f"size {size}: training_job was stopped by model gate(s) "
            f"{', '.join(pipeline.result['failed_checks'])}: no model registered; "
            "the run is measured up to the gate"
        )
    # The training_data step alone needs the applied repo that the job's run recorded.
    if pipeline.result.get("steps", {}).get("feature_store", {}).get("status") != "success":
        return
    record(
        "training_set",
        children.step(
            "training_set",
            "training_set",
            "--dagster-home",
            str(root / "dagster_home_training_set"),
        ),
    )
    # The public API on the same applied registry, in a process of its own.
    orders_dir = children.area / "data" / "orders"
    record("feast_api", children.step("feast_api", "feast_api", "--orders", str(orders_dir)))


def measure_baselines(children: Children, record: Record, smallest: bool) -> compare.Outputs:
    """The raw DuckDB join, the plain join and fit, and at the smallest size Feast's duckdb
    store; returns where the joins were written for the comparisons."""
    root = children.root
    orders_dir = children.area / "data" / "orders"
    stats_path = children.area / "data" / "driver_stats.parquet"
    outputs = compare.Outputs(
        baseline=root / "baseline" / "joined.parquet",
        feast_duckdb=root / "feast_duckdb" / "joined.parquet",
    )
    outputs.baseline.parent.mkdir(parents=True, exist_ok=True)
    outputs.baseline_ok = record(
        "baseline_asof",
        children.step(
            "baseline_asof",
            "baseline",
            "--orders",
            str(orders_dir),
            "--stats",
            str(stats_path),
            "--out",
            str(outputs.baseline),
        ),
    ).ok
    record(
        "plain_fit",
        children.step(
            "plain_fit", "plain_fit", "--orders", str(orders_dir), "--stats", str(stats_path)
        ),
    )
    if smallest:
        outputs.feast_duckdb_ok = record(
            "feast_duckdb",
            children.step(
                "feast_duckdb",
                "feast_duckdb",
                "--feast-dir",
                str(root / "feast_duckdb" / "feast"),
                "--out",
                str(outputs.feast_duckdb),
            ),
        ).ok
    return outputs


def run_sample(args: argparse.Namespace, work: Path, failures: list[str]) -> dict:
    """training_job against a plain single-process script doing the same work, on the
    default sample data (the generator's defaults), each in a process of its own."""
    children = Children.fresh(work / "sample", args)
    entry: dict = {"working_area": str(children.area), "steps": {}}
    record = functools.partial(record_step, entry, failures, "sample")

    print("sample: the generator's default data")
    if not record("generate", children.generate()).ok:
        return entry
    entry["n_orders"] = children.count_orders()

    def job_run(name: str) -> Measured:
        dagster_home = str(children.root / "dagster_home")
        return children.run(name, name, ["bench.steps", "pipeline"], "--dagster-home", dagster_home)

    def script_run(name: str) -> Measured:
        mlflow_dir = str(children.root / "plain_script_mlflow")
        return children.run(name, name, ["bench.plain_script"], "--mlflow-dir", mlflow_dir)

    # The job's first run applies the feature repo to the fresh registry and registers the
    # first champion; the script's first run does the same in its own MLflow store. The later
    # runs find the repo unchanged and a champion to judge against, as every later run of a
    # user's does: those are compared, `args.sample_runs` of each in turns, by their medians
    # (a process of ten seconds varies by a second or more with the machine's load).
    for key, run in (("training_job", job_run), ("plain_script", script_run)):
        if not record(f"{key}_first_run", run(f"{key}_first_run")).ok:
            return entry
    runs = runs_in_turns(args.sample_runs, {"training_job": job_run, "plain_script": script_run})
    # Every run's figures; under `steps`, the median run of each (or the first that failed).
    entry["runs"] = {key: [m.as_json() for m in measured] for key, measured in runs.items()}
    medians = {key: record(key, median_run(found)) for key, found in runs.items() if found}
    job, script = medians.get("training_job"), medians.get("plain_script")
    if job and script and job.ok and script.ok:
        entry["ratios"] = compare.sample_ratios(job.wall_s, script.wall_s)
    return entry


def runs_in_turns(
    turns: int, run_of: dict[str, Callable[[str], Measured]]
) -> dict[str, list[Measured]]:
    """`turns` runs of each, one of each in turn, until one fails."""
    runs: dict[str, list[Measured]] = {key: [] for key in run_of}
    for turn in range(1, turns + 1):
        for key, run in run_of.items():
            measured = run(f"{key}_{turn}")
            runs[key].append(measured)
            print_measured(f"{key} {turn}/{turns}", measured)
            if not measured.ok:
                break
        if not all(measured.ok for found in runs.values() for measured in found):
            break
    return runs


def median_run(runs: list[Measured]) -> Measured:
    """The run of median wall time, or the first that failed."""
    failed = [measured for measured in runs if not measured.ok]
    if failed:
        return failed[0]
    return sorted(runs, key=lambda measured: measured.wall_s)[len(runs) // 2]
