"""What the server does for a request, apart from HTTP: read the drivers' online features, score
them with the champion it holds, log every answer, and score in shadow the challenger and the
champion the current one replaced (`previous`), as batch scoring does.

The online store's trust (see `online.serving_problems`: loaded, not lost, not withdrawn,
within its views' TTL) is checked by a watcher thread every `check_seconds` and on every
`/health`, not on every request: a request reads the features and nothing else from the store.
A store that is down or stops answering fails a request within the Redis timeouts the server
opens it with (`feast_repo.fail_fast_redis`), and the next request tries again, so the server
recovers as soon as the store does.
"""

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from training_assets.core.features import feast_repo, online
from training_assets.core.monitoring import prediction_log as plog
from training_assets.core.schema import ENTITY_KEY
from training_assets.core.secrets import redact_uri
from training_assets.server.metrics import ServerMetrics
from training_assets.server.models import CHAMPION, ModelFollower, Served, ServedModel

# Requests waiting for their shadow scores at most; past that a request is not scored in shadow
# by any model (counted), so a slow shadow model never holds the answers' threads or memory.
SHADOW_QUEUE = 256


class Unavailable(Exception):
    """The server cannot answer now (no model, an untrusted or unreachable store): a 503."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class StoreState:
    """The online store as last checked: what makes it untrustworthy, or why it could not be
    asked."""

    problems: list[str]
    unreachable: str | None = None


class PredictionService:
    def __init__(
        self,
        store,
        feature_service: str,
        follower: ModelFollower,
        log: plog.PredictionLog,
        metrics: ServerMetrics,
        check_seconds: float = 1.0,
        shadow: bool = True,
    ):
        self.store, self.feature_service = store, feature_service
        self.follower, self.log, self.metrics = follower, log, metrics
        self.check_seconds, self.shadow = check_seconds, shadow
        self.state = StoreState(["the online store has not been checked yet"])
        self.features: online.ServiceFeatures | None = None
        self._outages = feast_repo.service_outage_errors()
        self._shadow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._shadow_waiting = threading.BoundedSemaphore(SHADOW_QUEUE)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def check_store(self) -> StoreState:
        """Check the online store now, and keep the result for the requests."""
        try:
            state = StoreState(online.serving_problems(self.store, self.feature_service))
            # Resolved here, off the requests' path, and again as the registry changes.
            self.features = online.service_features(self.store, self.feature_service)
        except self._outages as error:
            state = StoreState(self.state.problems, _outage(error))
        self.state = state
        return state

    def health(self, served: Served | None = None) -> list[str]:
        """Why the server cannot answer now (with `served`, what the follower holds, as the
        caller read it); empty when it can."""
        served = served if served is not None else self.follower.served
        reasons = [] if served.champion is not None else [self._no_model()]
        state = self.check_store()
        if state.unreachable:
            reasons.append(state.unreachable)
        reasons.extend(state.problems)
        return reasons

    def predict(self, driver_ids: list[int], impute: bool) -> list[dict]:
        """One answer per driver, in order, each logged.

        Raises:
            Unavailable: with no model loaded, a store that cannot be trusted, or a store that
                could not be read.
        """
        # Read once: every row is scored by this champion, and shadowed by these models.
        held = self.follower.served
        served = held.champion
        if served is None:
            raise Unavailable("no_model", self._no_model())
        if self.state.problems or self.features is None:
            raise Unavailable(
                "store_not_ready",
                "the online store cannot serve "
                f"{self.feature_service!r}: {'; '.join(self.state.problems)}. {online.LOAD_HINT}",
            )
        try:
            rows = online.read_rows(self.store, self.features, driver_ids)
        except self._outages as error:
            raise Unavailable("store_unreachable", _outage(error)) from None
        predictions = online.score(rows, served.model, impute)
        answers, logged = _answers(rows, predictions, served)
        self.log.record(logged)
        self.metrics.predictions.labels(CHAMPION).inc(len(answers))
        if self.shadow:
            shadows = {
                role: model
                for role, model in held.shadows().items()
                if model.version != served.version
            }
            if shadows:
                self._score_in_shadow(shadows, rows, logged, impute)
        return answers

    def _no_model(self) -> str:
        return (
            f"no model loaded: models:/{self.follower.model_name}@{self.follower.alias} "
            f"could not be loaded yet ({self.follower.last_error})"
        )

    def _score_in_shadow(
        self,
        shadows: dict[str, ServedModel],
        rows: online.OnlineRows,
        answered: list[plog.Prediction],
        impute: bool,
    ) -> None:
        """Score the answered rows with each of `shadows` (by role) after the answer, on the
        shadow queue: one place in it per request, whatever the number of shadow models."""
        if not self._shadow_waiting.acquire(blocking=False):
            self.metrics.shadow_skipped.inc()
            return

        def score() -> None:
            try:
                for role, model in shadows.items():
                    try:
                        predictions = online.score(rows, model.model, impute)
                    except Exception:  # one shadow model failing costs the others nothing
                        self.metrics.shadow_failed.labels(role).inc()
                        continue
                    shadowed = [
                        _in_shadow(row, role, model, prediction)
                        for row, prediction in zip(answered, predictions, strict=True)
                    ]
                    self.log.record(shadowed)
                    self.metrics.predictions.labels(role).inc(len(shadowed))
            finally:
                self._shadow_waiting.release()

        self._shadow_pool.submit(score)

    def start(self) -> "PredictionService":
        """Check the store now and then every `check_seconds`, until `stop`."""
        self.check_store()
        self._watcher = threading.Thread(target=self._watch, name="store-watcher", daemon=True)
        self._watcher.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.check_seconds):
            try:
                self.check_store()
            except Exception as error:  # anything else the store raised: say so, try again
                self.state = StoreState(self.state.problems, _outage(error))

    def stop(self) -> None:
        self._stop.set()
        self._shadow_pool.shutdown(wait=True)
        if self._watcher is not None:
            self._watcher.join(timeout=10)


def _answers(
    rows: online.OnlineRows, predictions: list[float | None], served: ServedModel
) -> tuple[list[dict], list[plog.Prediction]]:
    """The response's objects and the log's rows, one per driver, with one prediction id."""
    now = plog.scored_now()
    answers, logged = [], []
    for position, (key, found, prediction) in enumerate(
        zip(rows.keys, rows.found, predictions, strict=True)
    ):
        prediction_id = plog.new_prediction_id()
        values = {name: _json(column[position]) for name, column in rows.values.items()}
        answers.append(
            {
                ENTITY_KEY: key,
                "features": values,
                online.FEATURES_FOUND: found,
                "prediction": prediction,
                "model_name": served.name,
                "model_version": served.version,
                "prediction_id": prediction_id,
            }
        )
        logged.append(
            plog.Prediction(
                prediction_id=prediction_id,
                source=plog.ONLINE,
                role=plog.CHAMPION,
                entity=key,
                event_timestamp=now,
                model_name=served.name,
                model_version=served.version,
                features=values,
                features_found=found,
                prediction=prediction,
                scored_at=now,
            )
        )
    return answers, logged


def _in_shadow(
    answered: plog.Prediction, role: str, shadow: ServedModel, prediction
) -> plog.Prediction:
    """The answered row as `shadow` scored it in `role`, under the answer's prediction id."""
    return replace(
        answered,
        role=role,
        model_name=shadow.name,
        model_version=shadow.version,
        prediction=prediction,
        scored_at=plog.scored_now(),
    )


def _json(value):
    """A feature value as JSON can carry it: NaN (a float store's missing value) as null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _outage(error: BaseException) -> str:
    return (
        f"the online store could not be reached: {type(error).__name__}: "
        f"{redact_uri(str(error))[:300]}"
    )
