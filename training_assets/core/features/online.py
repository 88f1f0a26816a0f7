"""Online serving from Feast's online store: a driver's features as the online store holds them,
the champion's prediction on them, and the training/serving skew check that compares them with
the offline point-in-time features at the same moment.

No Dagster here: the `online_features` asset's check and the `training-assets-predict` command
call these.
"""

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from training_assets.core.data import locations
from training_assets.core.features import feast_repo
from training_assets.core.ml import serving
from training_assets.core.ml.split import model_inputs
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP

if TYPE_CHECKING:
    from feast import FeatureStore


def online_frame(store: "FeatureStore", feature_service: str, keys: list[int]) -> pd.DataFrame:
    """The service's features for `keys` as the online store holds them, indexed by key, in
    the service's feature order; a key the store does not know gets nulls."""
    service = store.get_feature_service(feature_service)
    names = list(feast_repo.applied_schema(store, feature_service).feature_names)
    frame = store.get_online_features(
        features=service, entity_rows=[{ENTITY_KEY: int(key)} for key in keys]
    ).to_df()
    return frame.set_index(ENTITY_KEY)[names]


def predict_online(
    store: "FeatureStore", feature_service: str, model_uri: str, keys: list[int]
) -> pd.DataFrame:
    """Score `keys` with the model at `model_uri` on their online features, as a serving
    endpoint would: one row per key, its features and the prediction."""
    features = online_frame(store, feature_service, keys)
    model = serving.load_pyfunc(model_uri)
    inputs = model_inputs(features.reset_index(drop=True))
    schema = serving.input_schema(model_uri)
    # The online store returns float64 and int64; the signature may ask for float32.
    inputs = inputs.astype(
        {name: _numpy_type(kind) for name, kind in schema.items() if name in inputs.columns}
    )
    result = features.reset_index()
    result["prediction"] = model.predict(inputs)
    return result


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
