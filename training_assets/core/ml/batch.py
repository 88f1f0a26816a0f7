"""Batch scoring: a request's rows, their point-in-time features and the champion's
prediction, in one frame that says which model version scored it and whether each row found
its features."""

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from training_assets.core.ml import serving
from training_assets.core.ml.split import model_inputs
from training_assets.core.ml.table import as_training_table
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    PROVENANCE_PREFIX,
    TrainingSchema,
)

PREDICTION = "prediction"
FEATURES_FOUND = "features_found"
MODEL_NAME_COLUMN = "model_name"
MODEL_VERSION_COLUMN = "model_version"


def score(
    client: mlflow.MlflowClient,
    joined: pa.Table,
    schema: TrainingSchema,
    model_name: str,
    version: int,
) -> pd.DataFrame:
    """The request rows in their order with the features they were scored on, whether they
    found them (`features_found`), the prediction of `model_name` version `version`, and that
    name and version on every row.

    A row that found no features is still scored, on the features the model imputes, and says
    so in `features_found`, which stands beside the prediction.

    Args:
        client: The MLflow client the model is read through.
        joined: The request joined point-in-time with the schema's features (Feast's
            historical retrieval, with the request's order position).
    """
    # Appended before the table is put back in request order, so that it moves with its row.
    joined = joined.append_column(FEATURES_FOUND, features_found(joined, schema))
    table = as_training_table(joined, schema)
    columns = [EVENT_TIMESTAMP, ENTITY_KEY, *schema.feature_names, FEATURES_FOUND]
    frame = table.select(columns).to_pandas()
    features = model_inputs(frame[list(schema.feature_names)])
    model = serving.load_pyfunc(client, f"models:/{model_name}/{version}")
    frame[PREDICTION] = model.predict(features)
    frame[MODEL_NAME_COLUMN] = model_name
    frame[MODEL_VERSION_COLUMN] = int(version)
    return frame


def features_found(joined: pa.Table, schema: TrainingSchema) -> pa.ChunkedArray:
    """Per row, whether every feature view matched a row within its TTL: the offline store's
    matched-row times (provenance) are all set. Without provenance, whether any feature is
    set, which cannot tell a matched row of nulls from no row."""
    times = [
        joined.column(name)
        for name in joined.column_names
        if name.startswith(PROVENANCE_PREFIX) and name.endswith("__timestamp")
    ]
    if times:
        found = pc.is_valid(times[0])
        for other in times[1:]:
            found = pc.and_(found, pc.is_valid(other))
        return found
    features = [joined.column(name) for name in schema.feature_names if name in joined.column_names]
    if not features:
        return pa.chunked_array([pa.array([False] * joined.num_rows)])
    found = pc.invert(pc.is_null(features[0], nan_is_null=True))
    for other in features[1:]:
        found = pc.or_(found, pc.invert(pc.is_null(other, nan_is_null=True)))
    return found
