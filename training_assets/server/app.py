"""The HTTP face of the server: `POST /predict`, `GET /health`, `GET /metrics`.

The endpoints are plain functions (FastAPI runs them on its thread pool), since reading the
online store and scoring are blocking calls.
"""

import time

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from training_assets.server.service import PredictionService, Unavailable

# Drivers per request at most: a request is an app's lookup, not a batch job (batch_predictions).
MAX_DRIVERS = 1000


class PredictRequest(BaseModel):
    driver_ids: list[int] = Field(min_length=1, max_length=MAX_DRIVERS)
    impute: bool = Field(
        default=False,
        description="Score drivers the online store does not know on the model's imputed "
        "features; otherwise they get no prediction (null).",
    )


def create_app(service: PredictionService) -> FastAPI:
    app = FastAPI(
        title="training-assets-serve",
        description="The champion on Feast's online features.",
    )
    metrics = service.metrics

    @app.post("/predict")
    def predict(request: PredictRequest) -> JSONResponse:
        start = time.perf_counter()
        try:
            answers = service.predict(request.driver_ids, request.impute)
        except Unavailable as refused:
            metrics.errors.labels(refused.reason).inc()
            metrics.requests.labels("503").inc()
            metrics.latency.observe(time.perf_counter() - start)
            return JSONResponse(
                {"detail": refused.detail, "reason": refused.reason}, status_code=503
            )
        except Exception:
            metrics.errors.labels("internal").inc()
            metrics.requests.labels("500").inc()
            raise
        metrics.requests.labels("200").inc()
        metrics.latency.observe(time.perf_counter() - start)
        return JSONResponse(answers)

    @app.get("/health")
    def health() -> JSONResponse:
        served = service.follower.served  # read once: the body describes one poll
        reasons = service.health(served)
        body = {
            "ready": not reasons,
            "reasons": reasons,
            "model_name": service.follower.model_name,
            "model_version": served.champion.version if served.champion else None,
            "challenger_version": served.challenger.version if served.challenger else None,
            "previous_version": served.previous.version if served.previous else None,
            # How the champion is scored: "onnxruntime", or "pyfunc: <why not compiled>".
            "scorer": getattr(served.champion.model, "scorer", None) if served.champion else None,
            "registry_error": service.follower.last_error,
        }
        return JSONResponse(body, status_code=200 if not reasons else 503)

    @app.get("/metrics")
    def prometheus_metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
