"""Latency and throughput of `training-assets-serve` beside Feast's own feature server.

    python -m bench.serving [--rate 100] [--fixed-seconds 20] [--saturation-seconds 10]
                            [--concurrency 8] [--out bench/results/serving.json]

In a fresh working area: the sample's driver stats, the repo's Feast settings with a Redis
online store (a redis-server of the benchmark's own on a free port of 127.0.0.1, as the
production profile's online store), the online store loaded by the pipeline's own load, and an
ElasticNet fit by the pipeline's fit function, logged and registered as `@champion` in the
working area's MLflow store. Then two servers on 127.0.0.1, one process each:

- ours, `python -m training_assets.server.main` (features, model, prediction log), asked
  `POST /predict {"driver_ids": [d]}`;
- Feast's, `feast serve` (one worker), asked `POST /get-online-features` for the same driver
  and the same feature service: the features alone.

Each is driven, one after the other, by an async aiohttp loop: first at a fixed arrival rate
(`--rate` requests a second for `--fixed-seconds`; a request's latency runs from the moment it
was due, so a server that falls behind is charged for the wait), then at saturation
(`--concurrency` clients asking back to back for `--saturation-seconds`). Drivers go round the
sample's drivers, one per request. Counts and times are bounded; only 127.0.0.1 is asked.

`--record` also keeps the run's results as docs/data/serving_results.json, from which the
table in docs/serving.md is rendered when the docs are built (this module is an mkdocs hook:
the page holds a marker, never the figures).

Then our server's Redis is paused (SIGSTOP: its connections hang, the slow way to be gone)
for `--outage-requests` requests one after another, each of which should be a 503 within
100 ms, and resumed; the seconds until the server answers 200 again by itself are kept too.

The results file holds, per server and load: requests, errors, p50/p99/max latency in ms and
throughput in requests a second; the outage's statuses and latencies; and the ratios the
issue sets as goals (our p99 at the fixed rate within 1.5x of Feast's; our throughput at
saturation at least two thirds of Feast's; each 503 within 100 ms).
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = PROJECT_ROOT / "bench" / "results" / "serving.json"
DATA = PROJECT_ROOT / "docs" / "data" / "serving_results.json"
PAGE_NAME = "serving.md"
MARKER = "<!-- serving benchmark table -->"
MODEL_NAME = "bench-serving"
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path):
    """A child in a session of its own, stopped by its id: SIGTERM, then SIGKILL."""
    with log.open("wb") as output:
        child = subprocess.Popen(
            command,
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=10)


def wait_until(condition, what: str, child: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not condition():
        if child.poll() is not None:
            raise RuntimeError(f"{what}: the process exited\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {START_TIMEOUT_S}s\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def answers(url: str, body: dict | None = None) -> bool:
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def prepare(area: Path, redis_port: int) -> tuple[dict[str, str], list[int]]:
    """The working area, the Feast settings on Redis, a loaded online store and a registered
    champion; the environment the servers run with and the drivers."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from training_assets.core import paths
    from training_assets.core.data.sample_data import SampleSpec, write_sample
    from training_assets.core.features import feast_repo
    from training_assets.core.ml.elastic_net import SKOPS_TRUSTED_TYPES, fit_elastic_net
    from training_assets.core.ml.split import model_inputs
    from training_assets.core.schema import FEATURE_SERVICE

    settings = yaml.safe_load((paths.FEATURE_REPO / "feature_store.yaml").read_text())
    settings["registry"] = str(area / "feast" / "registry.db")
    settings["online_store"] = {"type": "redis", "connection_string": f"127.0.0.1:{redis_port}"}
    settings_file = area / "feature_store.yaml"
    area.mkdir(parents=True, exist_ok=True)
    settings_file.write_text(yaml.safe_dump(settings))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        paths.WORKING_AREA_ENV: str(area),
        "FEAST_FS_YAML_FILE_PATH": str(settings_file),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    os.environ.update({k: env[k] for k in (paths.WORKING_AREA_ENV, "FEAST_FS_YAML_FILE_PATH")})

    stats_path = paths.default_driver_stats_path()
    write_sample(SampleSpec(), paths.default_sample_orders_file(), stats_path)
    store = feast_repo.working_area_store()
    feast_repo.apply_repo(store, paths.feature_repo(), stats_path)
    feast_repo.materialize_online(store, FEATURE_SERVICE)

    names = list(feast_repo.applied_schema(store, FEATURE_SERVICE).feature_names)
    stats = pd.read_parquet(stats_path)
    x = model_inputs(stats[names])
    y = (stats[names[0]] > stats[names[0]].median()).astype(int)
    model = fit_elastic_net(x, y, alpha=0.5, l1_ratio=0.1, random_state=1)
    mlflow_dir = paths.default_mlflow_dir()
    mlflow_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{mlflow_dir / 'mlflow.db'}")
    experiment = mlflow.create_experiment(
        "bench-serving", artifact_location=(mlflow_dir / "artifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x.head(), model.predict(x.head())),
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
            pip_requirements=["scikit-learn"],
        )
    version = mlflow.register_model(info.model_uri, MODEL_NAME)
    mlflow.MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", version.version)
    return env, sorted(int(d) for d in stats["driver_id"].unique())


def summary(latencies: list[float], errors: int, seconds: float) -> dict:
    ms = np.array(latencies) * 1000
    done = len(latencies)
    return {
        "requests": done + errors,
        "ok": done,
        "errors": errors,
        "seconds": round(seconds, 3),
        "throughput_rps": round(done / seconds, 1) if seconds else None,
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if done else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if done else None,
        "max_ms": round(float(ms.max()), 2) if done else None,
    }


async def _ask(session, url: str, body: dict) -> bool:
    async with session.post(url, json=body) as response:
        await response.read()
        return response.status == 200


async def fixed_rate(url: str, bodies: list[dict], rate: float, seconds: float) -> dict:
    """Requests due every 1/rate s for `seconds`, each sent when due whatever the others do;
    latency from when it was due."""
    import aiohttp

    count = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def one(index: int) -> None:
            nonlocal errors
            due = start + index / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            try:
                ok = await _ask(session, url, bodies[index % len(bodies)])
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                latencies.append(loop.time() - due)
            else:
                errors += 1

        await asyncio.gather(*(one(i) for i in range(count)))
        elapsed = loop.time() - start
    return {"rate_rps": rate, **summary(latencies, errors, elapsed)}


async def saturation(url: str, bodies: list[dict], concurrency: int, seconds: float) -> dict:
    """`concurrency` clients asking back to back until `seconds` have passed."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + seconds

        async def client(offset: int) -> None:
            nonlocal errors
            index = offset
            while loop.time() < deadline:
                sent = loop.time()
                try:
                    ok = await _ask(session, url, bodies[index % len(bodies)])
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    latencies.append(loop.time() - sent)
                else:
                    errors += 1
                index += concurrency

        await asyncio.gather(*(client(i) for i in range(concurrency)))
        elapsed = loop.time() - start
    return {"concurrency": concurrency, **summary(latencies, errors, elapsed)}


def measure_both(ours: tuple, feast: tuple, args: argparse.Namespace) -> dict:
    """Each load on one server and then the other, load by load, so that whatever else the
    machine runs meanwhile falls on both alike."""
    servers = {"ours": ours, "feast": feast}
    for url, bodies in servers.values():
        # A warm-up, not counted: the first requests pay one-off costs.
        asyncio.run(saturation(url, bodies, 2, 2.0))
    results: dict[str, dict] = {name: {} for name in servers}
    for name, (url, bodies) in servers.items():
        results[name]["fixed_rate"] = asyncio.run(
            fixed_rate(url, bodies, args.rate, args.fixed_seconds)
        )
    for name, (url, bodies) in servers.items():
        results[name]["saturation"] = asyncio.run(
            saturation(url, bodies, args.concurrency, args.saturation_seconds)
        )
    return results


def status_and_seconds(url: str, body: dict) -> tuple[int, float]:
    """One request's HTTP status (0 when none came) and how long it took."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        error.read()
        status = error.code
    except OSError:
        status = 0
    return status, time.perf_counter() - started


def redis_outage(url: str, bodies: list[dict], redis: subprocess.Popen, requests: int) -> dict:
    """Our server while its Redis stops answering (the process paused: connections hang, as
    behind a dead network link, which is the slow case): `requests` requests one after
    another, each of which should be a 503 within 100 ms; then Redis resumes with its data,
    and the seconds until the server answers 200 again, by itself."""
    os.kill(redis.pid, signal.SIGSTOP)
    try:
        answered = [status_and_seconds(url, bodies[i % len(bodies)]) for i in range(requests)]
    finally:
        os.kill(redis.pid, signal.SIGCONT)
    resumed = time.perf_counter()
    recovered_s = None
    while time.perf_counter() - resumed < 60:
        if status_and_seconds(url, bodies[0])[0] == 200:
            recovered_s = round(time.perf_counter() - resumed, 3)
            break
        time.sleep(0.05)
    ms = np.array([seconds for _, seconds in answered]) * 1000
    statuses = [status for status, _ in answered]
    return {
        "requests": requests,
        "status_503": statuses.count(503),
        "other_statuses": sorted({s for s in statuses if s != 503}),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "recovered_s": recovered_s,
    }


def run(args: argparse.Namespace, work: Path) -> dict:
    from training_assets.core.schema import FEATURE_SERVICE

    redis_port, ours_port, feast_port = free_port(), free_port(), free_port()
    redis_command = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"]
    redis_command += ["--save", "", "--appendonly", "no", "--dir", str(work)]
    with process(redis_command, dict(os.environ), work / "redis.log") as redis:
        env, drivers = prepare(work / "var", redis_port)
        ours_command = [sys.executable, "-m", "training_assets.server.main"]
        ours_command += ["--port", str(ours_port), "--model-name", MODEL_NAME]
        feast_command = [str(Path(sys.executable).parent / "feast")]
        feast_command += ["-c", str(PROJECT_ROOT / "feature_repo"), "serve", "--no-access-log"]
        feast_command += ["-h", "127.0.0.1", "-p", str(feast_port), "--workers", "1"]
        # Feast's default restarts its worker every 1000 requests; not in a measurement.
        feast_command += ["--max-requests", "10000000"]
        ours_url = f"http://127.0.0.1:{ours_port}"
        feast_url = f"http://127.0.0.1:{feast_port}"
        with (
            process(ours_command, env, work / "ours.log") as ours,
            process(feast_command, env, work / "feast.log") as feast,
        ):
            wait_until(
                lambda: answers(f"{ours_url}/health"), "our server ready", ours, work / "ours.log"
            )
            probe = {"feature_service": FEATURE_SERVICE, "entities": {"driver_id": [drivers[0]]}}
            wait_until(
                lambda: answers(f"{feast_url}/get-online-features", probe),
                "feast serve answering",
                feast,
                work / "feast.log",
            )
            ours_bodies = [{"driver_ids": [d]} for d in drivers]
            feast_bodies = [
                {"feature_service": FEATURE_SERVICE, "entities": {"driver_id": [d]}}
                for d in drivers
            ]
            results = measure_both(
                (f"{ours_url}/predict", ours_bodies),
                (f"{feast_url}/get-online-features", feast_bodies),
                args,
            )
            results["outage"] = redis_outage(
                f"{ours_url}/predict", ours_bodies, redis, args.outage_requests
            )
    fixed = {name: results[name]["fixed_rate"] for name in ("ours", "feast")}
    saturated = {name: results[name]["saturation"] for name in ("ours", "feast")}
    results["goals"] = {
        "p99_ratio_at_fixed_rate": round(fixed["ours"]["p99_ms"] / fixed["feast"]["p99_ms"], 2),
        "p99_ratio_goal": 1.5,
        "throughput_ratio_at_saturation": round(
            saturated["ours"]["throughput_rps"] / saturated["feast"]["throughput_rps"], 2
        ),
        "throughput_ratio_goal": round(2 / 3, 2),
        "outage_max_ms": results["outage"]["max_ms"],
        "outage_goal_ms": 100,
    }
    return results


def render(results: dict) -> str:
    """The results as the docs show them: one row per server and load, then the goals."""
    lines = [
        "| server | load | requests | errors | p50 ms | p99 ms | max ms | requests/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"ours": "training-assets-serve `/predict`", "feast": "feast serve (features only)"}
    loads = {
        "fixed_rate": f"{results['settings']['rate_rps']:g}/s for "
        f"{results['settings']['fixed_seconds']:g} s",
        "saturation": f"{results['settings']['concurrency']} clients for "
        f"{results['settings']['saturation_seconds']:g} s",
    }
    for server, label in names.items():
        for load, text in loads.items():
            row = results[server][load]
            lines.append(
                f"| {label} | {text} | {row['requests']} | {row['errors']} | {row['p50_ms']} | "
                f"{row['p99_ms']} | {row['max_ms']} | {row['throughput_rps']} |"
            )
    goals = results["goals"]
    machine = results["machine"]
    recorded = results.get("recorded", {})
    lines += [
        "",
        f"Our p99 at the fixed rate is {goals['p99_ratio_at_fixed_rate']}x Feast's (goal: at "
        f"most {goals['p99_ratio_goal']}x); our throughput at saturation is "
        f"{goals['throughput_ratio_at_saturation']}x Feast's (goal: at least "
        f"{goals['throughput_ratio_goal']}x). {machine['cpus']} CPUs, Python "
        f"{machine['python']}; {recorded.get('note', 'no note')}.",
    ]
    outage = results.get("outage")
    if outage:
        lines += [
            "",
            f"With Redis paused (connections hang), {outage['status_503']} of "
            f"{outage['requests']} requests in a row were answered 503 in at most "
            f"{outage['max_ms']} ms (p50 {outage['p50_ms']} ms; goal: within "
            f"{goals['outage_goal_ms']} ms each); once Redis resumed, the server answered 200 "
            f"again after {outage['recovered_s']} s, by itself.",
        ]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 - mkdocs'
    """mkdocs hook: the serving page with the recorded results in place of its marker."""
    if page.file.src_uri != PAGE_NAME or MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render(json.loads(DATA.read_text())))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.serving", description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0, help="requests a second")
    parser.add_argument("--fixed-seconds", type=float, default=20.0)
    parser.add_argument("--saturation-seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--outage-requests",
        type=int,
        default=50,
        help="requests, one after another, while our server's Redis is paused",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--work-dir", type=Path, default=None, help="kept when given")
    parser.add_argument(
        "--record",
        metavar="NOTE",
        default=None,
        help=f"keep the results as {DATA.relative_to(PROJECT_ROOT)}, with this note on the run",
    )
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.rate * args.fixed_seconds > 100_000:
        parser.error("--rate must be positive, and rate x fixed-seconds at most 100000")
    if not 0 < args.saturation_seconds <= 600 or not 1 <= args.concurrency <= 256:
        parser.error("--saturation-seconds must be in (0, 600], --concurrency in [1, 256]")
    if not 1 <= args.outage_requests <= 1000:
        parser.error("--outage-requests must be in [1, 1000]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench_serving_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = run(args, work)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_after": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    results["settings"] = {
        "rate_rps": args.rate,
        "fixed_seconds": args.fixed_seconds,
        "saturation_seconds": args.saturation_seconds,
        "concurrency": args.concurrency,
        "outage_requests": args.outage_requests,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.record is not None:
        command = (
            f"python -m bench.serving --rate {args.rate:g} --fixed-seconds {args.fixed_seconds:g} "
            f"--saturation-seconds {args.saturation_seconds:g} --concurrency {args.concurrency} "
            f"--outage-requests {args.outage_requests} --record NOTE"
        )
        results["recorded"] = {"command": command, "note": args.record}
        DATA.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    failed = [
        name for name in ("ours", "feast") for load in results[name].values() if load["errors"]
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
