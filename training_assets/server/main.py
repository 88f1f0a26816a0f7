"""`training-assets-serve`: the champion behind HTTP on Feast's online features.

    training-assets-serve --host 127.0.0.1 --port 8080

`POST /predict {"driver_ids": [1001, 1002], "impute": false}` answers one object per driver:
its features as the online store holds them, `features_found`, `prediction` (null for a
driver the store does not know, unless `impute`), `model_name`, `model_version` and a
`prediction_id` under which the answer is logged; `@challenger` and the champion the current
one replaced are scored in shadow, logged under the same id, never answered. `GET /health` is
200 only when a model is loaded and the online store can be trusted for the service's views,
else 503 with the reasons; `GET /metrics` is Prometheus text.

Reads the environment the pipeline reads (the feature repo, FEAST_FS_YAML_FILE_PATH,
MLFLOW_TRACKING_URI, the working area) and TRAINING_ASSETS_PREDICTION_LOG_URL for where the
answers are logged (a PostgreSQL URL; unset, parquet files under <working area>/predictions).
"""

import argparse
import signal
import sys

from training_assets.core.schema import FEATURE_SERVICE
from training_assets.core.tracking import registry

# The registry is asked in the background: a slow answer delays a swap, never a request, but a
# dead registry should not hold the poller through MLflow's default budget (minutes).
REGISTRY_TIMEOUT_S, REGISTRY_RETRIES = 10, 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="training-assets-serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--model-name", default=registry.DEFAULT_MODEL_NAME)
    parser.add_argument("--alias", default=registry.DEFAULT_ALIAS, help="the alias served")
    parser.add_argument(
        "--challenger-alias",
        default=registry.CHALLENGER_ALIAS,
        help="scored in shadow (logged, never answered) while it differs from the served one",
    )
    parser.add_argument(
        "--no-shadow",
        action="store_true",
        help="score nothing in shadow: neither the challenger nor the previous champion",
    )
    parser.add_argument("--feature-service", default=FEATURE_SERVICE)
    parser.add_argument(
        "--poll-seconds", type=float, default=5.0, help="how often the aliases are read"
    )
    parser.add_argument(
        "--check-seconds",
        type=float,
        default=1.0,
        help="how often the online store's load records are checked",
    )
    parser.add_argument(
        "--online-timeout-ms",
        type=float,
        default=50.0,
        help="a Redis online store's connect and reply timeout, without retries",
    )
    parser.add_argument("--log-flush-seconds", type=float, default=1.0)
    return parser.parse_args(argv)


def build(args: argparse.Namespace):
    """The app and what it runs on: the store, the model follower, the log, the service."""
    from training_assets.core import paths, settings
    from training_assets.core.features import feast_repo
    from training_assets.core.monitoring.prediction_log import PredictionLog
    from training_assets.core.monitoring.sinks import prediction_sink
    from training_assets.core.secrets import split_credentials
    from training_assets.server.app import create_app
    from training_assets.server.metrics import ServerMetrics
    from training_assets.server.models import ModelFollower, RegistryAddress
    from training_assets.server.service import PredictionService

    tracking = settings.mlflow_tracking_uri() or _embedded_tracking_uri(paths)
    tracking, user, password = split_credentials(tracking)
    configured_registry = settings.mlflow_registry_uri()
    registry_uri = split_credentials(configured_registry)[0] if configured_registry else None
    settings.set_mlflow_http_budget(REGISTRY_TIMEOUT_S, REGISTRY_RETRIES, user, password)
    follower = ModelFollower(
        RegistryAddress(tracking, registry_uri),
        args.model_name,
        alias=args.alias,
        challenger_alias=None if args.no_shadow else args.challenger_alias,
        poll_seconds=args.poll_seconds,
        follow_previous=not args.no_shadow,
    )
    store = feast_repo.working_area_store(online_timeout_s=args.online_timeout_ms / 1000)
    log = PredictionLog(prediction_sink(), flush_seconds=args.log_flush_seconds)
    metrics = ServerMetrics()
    metrics.watch(follower, log)
    service = PredictionService(
        store,
        args.feature_service,
        follower,
        log,
        metrics,
        check_seconds=args.check_seconds,
        shadow=not args.no_shadow,
    )
    return create_app(service), service


def _embedded_tracking_uri(paths) -> str:
    """The embedded defaults' MLflow store, as the pipeline's MlflowStore resolves it."""
    return f"sqlite:///{paths.default_mlflow_dir() / 'mlflow.db'}"


def serve(argv: list[str] | None = None) -> int:
    import uvicorn

    args = parse_args(argv)
    app, service = build(args)
    # uvicorn raises the SIGTERM it caught again once it has shut down, with the handler it
    # found: the default one would end the process here, before the shadow queue and the log
    # are written out. This one ends it through the `finally` below, with exit code 0.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        service.log.start()
        service.follower.start()
        service.start()
        # One process: the model and the log's queue live in it; uvicorn stops on SIGTERM and
        # SIGINT after the requests in flight, then the shadow scores queued are made and the
        # log writes what it holds.
        uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="info")
    except _Terminated:
        pass
    finally:
        # A second SIGTERM now would cut the cleanup short and lose the log's last rows.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # The answers' shadow scores and the log first: a model load in progress may take
        # longer than the grace period before a kill, and it has nothing left to serve.
        service.follower.stop(wait=False)
        service.stop()
        service.log.close()
        service.follower.stop()
    return 0


class _Terminated(Exception):
    """SIGTERM: stop as asked."""


def _terminated(signum, frame) -> None:
    raise _Terminated


if __name__ == "__main__":
    sys.exit(serve())
