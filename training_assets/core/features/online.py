"""Online serving from Feast's online store: a driver's features as the online store holds them,
the champion's prediction on them, and the training/serving skew check that compares them with
the offline point-in-time features at the same moment.

Nothing is served from a store that cannot be trusted: one that was never loaded for the
service's views, lost its data since, had a view withdrawn by the skew check, or was last loaded
longer ago than a view's TTL (see load_marker) is refused with what to run.

No Dagster here: the `online_features` asset's check and the `training-assets-predict` command
call these.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from training_assets.core.data import locations
from training_assets.core.features import feast_repo, load_marker
from training_assets.core.ml import compiled, serving
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP

if TYPE_CHECKING:
    import mlflow
    from feast import FeatureService, FeatureStore

FEATURES_FOUND = "features_found"
# Feast's suffix of a feature's event-time column in an online response (seconds since epoch).
TIMESTAMP_POSTFIX = "__ts"


class OnlineStoreNotReady(Exception):
    """The online store cannot be trusted to serve a FeatureService's views: never loaded, lost
    its data, withdrawn by the skew check, or last loaded longer ago than a view's TTL."""


LOAD_HINT = (
    "Materialize online_features (the UI, or `dagster asset materialize -m "
    "training_assets.definitions --select online_features`) and try again."
)


def serving_problems(
    store: "FeatureStore", feature_service: str, now: datetime | None = None
) -> list[str]:
    """Why the online store cannot serve `feature_service`, one sentence per view; empty
    when every view was loaded by the pipeline within its TTL and its load still stands."""
    now = now or datetime.now(UTC)
    problems = []
    for projection in store.get_feature_service(feature_service).feature_view_projections:
        view = store.get_feature_view(projection.name)
        marker = load_marker.read_marker(store, view)
        if view.most_recent_end_time is None:
            problems.append(f"view {view.name!r} was never loaded into the online store")
        elif marker is None:
            problems.append(
                f"the registry says view {view.name!r} was loaded up to "
                f"{view.most_recent_end_time.isoformat()}, but the online store holds no record "
                "of that load: the store lost its data (restarted empty, flushed, evicted or "
                "replaced), or it was loaded outside the pipeline"
            )
        elif marker.withdrawn:
            problems.append(
                f"view {view.name!r} was withdrawn from serving at "
                f"{marker.loaded_at.isoformat()}: {marker.withdrawn_because}"
            )
        elif view.ttl and now - marker.loaded_at > view.ttl:
            problems.append(
                f"view {view.name!r} was last loaded at {marker.loaded_at.isoformat()}, "
                f"{_age(now - marker.loaded_at)} ago, longer than its TTL of {view.ttl}"
            )
    return problems


def require_servable(
    store: "FeatureStore", feature_service: str, now: datetime | None = None
) -> None:
    """Raise OnlineStoreNotReady, saying what is wrong and what to run, unless the online store
    can serve `feature_service` (see serving_problems)."""
    problems = serving_problems(store, feature_service, now)
    if problems:
        raise OnlineStoreNotReady(
            f"the online store ({store.config.online_store.type}) cannot serve feature service "
            f"{feature_service!r}: " + "; ".join(problems) + ". " + LOAD_HINT
        )


@dataclass(frozen=True)
class ServiceFeatures:
    """A FeatureService as the registry holds it, with its feature names in order: resolved
    once by a server, per call by the functions that take the service's name."""

    name: str
    service: "FeatureService"
    names: tuple[str, ...]


def service_features(store: "FeatureStore", feature_service: str) -> ServiceFeatures:
    return ServiceFeatures(
        feature_service,
        store.get_feature_service(feature_service),
        tuple(feast_repo.applied_schema(store, feature_service).feature_names),
    )


@dataclass(frozen=True)
class OnlineRows:
    """The online store's answer for some keys, in their order: whether it knew each key
    (it holds a row of every view for it) and each feature's values (None where it has none).
    """

    keys: list[int]
    found: list[bool]
    values: dict[str, list]

    def frame(self) -> pd.DataFrame:
        """One row per key: the key, `features_found` and the features, in order."""
        frame = self.features()
        frame.insert(0, ENTITY_KEY, self.keys)
        frame.insert(1, FEATURES_FOUND, self.found)
        return frame

    def features(self, rows: list[int] | None = None) -> pd.DataFrame:
        """The features of the rows at positions `rows` (all by default), as a table."""
        chosen = range(len(self.keys)) if rows is None else rows
        return pd.DataFrame(
            {name: pd.Series([column[i] for i in chosen]) for name, column in self.values.items()}
        )

    def scored(self, impute: bool) -> list[int]:
        """Positions of the rows that get a prediction: the keys the store knew, or all if
        `impute`."""
        return [i for i, found in enumerate(self.found) if found or impute]


def read_rows(store: "FeatureStore", features: ServiceFeatures, keys: list[int]) -> OnlineRows:
    """The features of `keys` as the online store holds them. Does not check that the store
    can be trusted (see require_servable).

    A key the store does not know reads as nulls with no event time (sqlite marks it not
    found, Redis present with empty values), so its time, not its values, says it is missing:
    a row whose values are null is a row the store holds."""
    keys = [int(key) for key in keys]
    answer = store.get_online_features(
        features=features.service, entity_rows=[{ENTITY_KEY: key} for key in keys]
    ).to_dict(include_event_timestamps=True)
    times = [answer[f"{name}{TIMESTAMP_POSTFIX}"] for name in features.names]
    found = [all((column[i] or 0) > 0 for column in times) for i in range(len(keys))]
    return OnlineRows(keys, found, {name: answer[name] for name in features.names})


def online_frame(store: "FeatureStore", feature_service: str, keys: list[int]) -> pd.DataFrame:
    """The service's features for `keys` as the online store holds them, indexed by key, in
    the service's feature order; a key the store does not know gets nulls."""
    rows = read_rows(store, service_features(store, feature_service), keys)
    return rows.features().set_index(pd.Index(rows.keys, name=ENTITY_KEY))


class OnlineModel:
    """A model loaded once, with the input types of its signature, that scores online feature
    rows: what a long-running server holds, and what `predict_online` loads per call."""

    def __init__(self, client: "mlflow.MlflowClient", model_uri: str, compile: bool = True):
        self.model_uri = model_uri
        self._model = serving.load_pyfunc(client, model_uri)
        # The online store returns float64 and int64; the signature may ask for float32.
        self._types = {name: _numpy_type(kind) for name, kind in self._model.input_schema().items()}
        # Scored by ONNX Runtime where the model compiles and agrees with itself
        # (core/ml/compiled.py), else through pyfunc; `scorer` says which, and why. A caller
        # that scores once (the predict command) spares itself the compiling.
        raw = self._model.sklearn_model() if compile else None
        self._compiled, why = (
            compiled.compile_model(raw, list(self._types))
            if raw is not None and self._types
            else (
                None,
                "not compiled" if not compile else "not a scikit-learn model with a signature",
            )
        )
        self.scorer = "onnxruntime" if self._compiled else f"pyfunc: {why}"

    def warm_up(self) -> None:
        """Score one row of missing values (which the model imputes), so that the one-off
        costs of a first call are paid before the model answers anyone."""
        if self._types:
            empty = OnlineRows([0], [False], {name: [None] for name in self._types})
            self.predict_rows(empty, [0])

    def predict_rows(self, rows: OnlineRows, positions: list[int]) -> np.ndarray:
        """Predictions for the rows of `rows` at `positions`. Each column is built once in the
        type the signature asks for, float64 where it names none (as `model_inputs` gives the
        training table's integers), rather than built and then converted per request."""
        if self._compiled is not None:
            matrix = np.array(
                [[rows.values[name][i] for name in self._compiled.columns] for i in positions],
                dtype=np.float64,
            )
            if compiled.exact_in_float32(matrix):
                return self._compiled.predict(matrix.astype(np.float32))
        inputs = pd.DataFrame(
            {
                name: np.array(
                    [column[i] for i in positions], dtype=self._types.get(name, "float64")
                )
                for name, column in rows.values.items()
            }
        )
        return np.ravel(self._model.predict(inputs))


def score(rows: OnlineRows, model: OnlineModel | None, impute: bool) -> list[float | None]:
    """The prediction of each row; None for a row that is not scored (see
    `OnlineRows.scored`). `model` may be None only when no row is scored."""
    chosen = rows.scored(impute)
    predictions: list[float | None] = [None] * len(rows.keys)
    if chosen:
        for position, value in zip(chosen, model.predict_rows(rows, chosen), strict=True):
            predictions[position] = float(value)
    return predictions


def predict_online(
    client: "mlflow.MlflowClient",
    store: "FeatureStore",
    feature_service: str,
    model_uri: str,
    keys: list[int],
    impute: bool = False,
) -> pd.DataFrame:
    """Score `keys` with the model at `model_uri` (read through `client`) on their online
    features, as a serving endpoint would: one row per key, whether the store knew it, its
    features and the prediction.

    A key the store does not know gets no prediction (null) unless `impute`, when the model
    fills its features as it fills missing values in training.

    Raises:
        OnlineStoreNotReady: when the store cannot serve the service (see serving_problems),
            before the model is loaded.
    """
    require_servable(store, feature_service)
    rows = read_rows(store, service_features(store, feature_service), keys)
    # Scored once: through pyfunc, not paying to compile a model it drops after one call.
    model = OnlineModel(client, model_uri, compile=False) if rows.scored(impute) else None
    result = rows.frame()
    # Nullable: a key that is not scored has no prediction, which JSON writes as null.
    result["prediction"] = pd.array(score(rows, model, impute), dtype="Float64")
    return result


def withdraw_views(
    store: "FeatureStore", feature_service: str, features: list[str], because: str
) -> list[str]:
    """Withdraw the load markers of the service's views that serve `features`, so that
    predictions are refused and the next load reloads them in full; their names, sorted."""
    views = sorted(
        {
            projection.name
            for projection in store.get_feature_service(feature_service).feature_view_projections
            if {field.name for field in projection.features} & set(features)
        }
    )
    for name in views:
        load_marker.withdraw_marker(store, store.get_feature_view(name), because)
    return views


def _age(delta: timedelta) -> str:
    return str(timedelta(seconds=round(delta.total_seconds())))


def skew(
    store: "FeatureStore",
    feature_service: str,
    max_keys: int = 2000,
    tolerance: float = 1e-6,
) -> dict[str, Any]:
    """Online features against the offline point-in-time features at the newest feature time:
    what the model is served against what it would have been trained on.

    Keys whose offline value has expired (no row within the view's TTL at that moment) are
    counted, not compared: the online store keeps a value until it is overwritten.

    Returns:
        `moment`, `compared` keys, `expired` keys, and `differing`: one entry per key and
        feature that differs by more than `tolerance`, with both values.
    """
    sources = [
        store.get_feature_view(projection.name).batch_source
        for projection in store.get_feature_service(feature_service).feature_view_projections
    ]
    ends = [feast_repo.source_time_range(source)[1] for source in sources]
    ends = [end for end in ends if end is not None]
    if not ends:
        return {"moment": None, "compared": 0, "expired": 0, "differing": []}
    last = max(ends)
    keys = sorted(
        {
            int(key)
            for source in sources
            for key in locations.read_parquet(source.path, columns=[ENTITY_KEY])
            .column(0)
            .to_pylist()
            if key is not None
        }
    )[:max_keys]
    moment = pd.Timestamp(last) + pd.Timedelta(microseconds=1)
    entity = pd.DataFrame({ENTITY_KEY: np.array(keys, dtype=np.int64), EVENT_TIMESTAMP: moment})
    offline = (
        feast_repo.historical_table(store, entity, feature_service)
        .to_pandas()
        .set_index(ENTITY_KEY)
    )
    online = online_frame(store, feature_service, keys)
    names = list(online.columns)
    offline = offline.loc[online.index, names]
    expired = offline.isna().all(axis=1)
    differing = []
    for name in names:
        left = online.loc[~expired, name].astype(float)
        right = offline.loc[~expired, name].astype(float)
        both_null = left.isna() & right.isna()
        close = np.isclose(left, right, rtol=tolerance, atol=tolerance)
        for key in left.index[~(close | both_null)]:
            differing.append(
                {
                    ENTITY_KEY: int(key),
                    "feature": name,
                    "online": _plain(left[key]),
                    "offline": _plain(right[key]),
                }
            )
    return {
        "moment": moment.isoformat(),
        "compared": int((~expired).sum()),
        "expired": int(expired.sum()),
        "differing": differing,
    }


def _plain(value: float) -> float | None:
    return None if pd.isna(value) else float(value)


def _numpy_type(kind: str) -> str:
    return {"float": "float32", "double": "float64", "integer": "int32", "long": "int64"}.get(
        kind, "float64"
    )
