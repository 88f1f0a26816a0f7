"""Batch scoring: a request's rows, their point-in-time features and the champion's
prediction, in one frame that says which model version scored it."""

import pandas as pd
import pyarrow as pa

from training_assets.core.ml import serving
from training_assets.core.ml.split import model_inputs
from training_assets.core.ml.table import as_training_table
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, TrainingSchema

PREDICTION = "prediction"
MODEL_NAME_COLUMN = "model_name"
MODEL_VERSION_COLUMN = "model_version"


def score(joined: pa.Table, schema: TrainingSchema, model_name: str, version: int) -> pd.DataFrame:
    """The request rows in their order with the features they were scored on, the prediction
    of `model_name` version `version`, and that name and version on every row.

    Args:
        joined: The request joined point-in-time with the schema's features (Feast's
            historical retrieval, with the request's order position).
    """
    table = as_training_table(joined, schema)
    frame = table.select([EVENT_TIMESTAMP, ENTITY_KEY, *schema.feature_names]).to_pandas()
    features = model_inputs(frame[list(schema.feature_names)])
    model = serving.load_pyfunc(f"models:/{model_name}/{version}")
    frame[PREDICTION] = model.predict(features)
    frame[MODEL_NAME_COLUMN] = model_name
    frame[MODEL_VERSION_COLUMN] = int(version)
    return frame
