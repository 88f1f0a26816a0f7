"""Serving-side facts about a logged model: its input schema, whether it loads, how fast it is."""

import time

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import Model

from training_assets.core.tracking.model_files import local_model


def input_schema(client: mlflow.MlflowClient, model_uri: str) -> dict[str, str]:
    """Input column name to type, from the model's logged signature ({} if it has none)."""
    with local_model(client, model_uri) as path:
        return _input_types(Model.load(path).signature)


def _input_types(signature) -> dict[str, str]:
    if signature is None or signature.inputs is None:
        return {}
    return {spec["name"]: spec["type"] for spec in signature.inputs.to_dict()}


def load_pyfunc(client: mlflow.MlflowClient, model_uri: str) -> "_Predictor":
    """Load the model as pyfunc, as a server would; predictions come back as an array."""
    with local_model(client, model_uri) as path:
        return _Predictor(mlflow.pyfunc.load_model(path))


class _Predictor:
    def __init__(self, model):
        self._model = model

    def input_schema(self) -> dict[str, str]:
        """As `input_schema`, from the loaded model's own metadata (no store is asked)."""
        return _input_types(self._model.metadata.signature)

    def sklearn_model(self):
        """The scikit-learn estimator inside, or None for a model of another flavour."""
        if "sklearn" not in self._model.metadata.flavors:
            return None
        return self._model.get_raw_model()

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """Predict through the model's signature, which rejects rows it does not accept."""
        return np.asarray(self._model.predict(rows), dtype=float)


def p95_latency_ms(model, batch: pd.DataFrame, repeats: int) -> float:
    """95th percentile wall time of `model.predict(batch)` over `repeats` calls, in ms."""
    model.predict(batch)  # the first call pays one-off costs a server pays at start-up
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(batch)
        timings.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(timings, 95))
