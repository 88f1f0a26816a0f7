"""Batch scoring: a request's rows, their point-in-time features and the champion's
prediction, in one frame that says which model version scored it and whether each row found
its features; and the same rows as the prediction log records them."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from mlflow import MlflowClient

from training_assets.core.ml import serving
from training_assets.core.ml.split import model_inputs
from training_assets.core.ml.table import as_training_table
from training_assets.core.monitoring.prediction_log import BATCH, LOG_SCHEMA, new_prediction_id
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
    client: MlflowClient,
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
    frame = scoring_frame(joined, schema)
    frame[PREDICTION] = predict(client, frame, schema, model_name, version)
    frame[MODEL_NAME_COLUMN] = model_name
    frame[MODEL_VERSION_COLUMN] = int(version)
    return frame


def scoring_frame(joined: pa.Table, schema: TrainingSchema) -> pd.DataFrame:
    """The request rows in their order: key, features and `features_found`."""
    # Appended before the table is put back in request order, so that it moves with its row.
    joined = joined.append_column(FEATURES_FOUND, features_found(joined, schema))
    table = as_training_table(joined, schema)
    columns = [EVENT_TIMESTAMP, ENTITY_KEY, *schema.feature_names, FEATURES_FOUND]
    return table.select(columns).to_pandas()


def predict(
    client: MlflowClient,
    frame: pd.DataFrame,
    schema: TrainingSchema,
    model_name: str,
    version: int,
) -> np.ndarray:
    """`model_name` version `version`'s predictions for the rows' features."""
    features = model_inputs(frame[list(schema.feature_names)])
    model = serving.load_pyfunc(client, f"models:/{model_name}/{version}")
    return np.asarray(model.predict(features), dtype=float)


@dataclass(frozen=True)
class Scored:
    """One model's scores of a batch's rows, as the log records them."""

    role: str
    model_name: str
    model_version: int
    predictions: np.ndarray
    prediction_ids: Sequence[str]
    scored_at: datetime


def log_rows(
    frame: pd.DataFrame,
    feature_names: Sequence[str],
    scored: Scored,
    writer: str,
    first_sequence: int = 1,
) -> pa.Table:
    """The rows of `frame` as the prediction log's rows (LOG_SCHEMA) of one model's scores:
    built column by column, since a batch holds millions of rows."""
    features = frame[sorted(feature_names)]
    # JSON per row as the log's `as_table` writes it: keys sorted, a missing value null.
    text = features.to_json(orient="records", lines=True, double_precision=15)
    rows = len(frame)
    columns = {
        "prediction_id": pa.array(list(scored.prediction_ids), pa.string()),
        "source": pa.array([BATCH] * rows, pa.string()),
        "role": pa.array([scored.role] * rows, pa.string()),
        ENTITY_KEY: pa.array(frame[ENTITY_KEY].to_numpy(dtype="int64")),
        EVENT_TIMESTAMP: pa.array(pd.to_datetime(frame[EVENT_TIMESTAMP], utc=True)).cast(
            LOG_SCHEMA.field(EVENT_TIMESTAMP).type
        ),
        "model_name": pa.array([scored.model_name] * rows, pa.string()),
        "model_version": pa.array(np.full(rows, scored.model_version, dtype="int64")),
        "features": pa.array(text.splitlines() if rows else [], pa.string()),
        "features_found": pa.array(frame[FEATURES_FOUND].to_numpy(dtype=bool)),
        "prediction": pa.array(np.asarray(scored.predictions, dtype=float)),
        "scored_at": pa.array([scored.scored_at] * rows, LOG_SCHEMA.field("scored_at").type),
        "writer": pa.array([writer] * rows, pa.string()),
        "sequence": pa.array(np.arange(first_sequence, first_sequence + rows, dtype="int64")),
    }
    return pa.table(columns, schema=LOG_SCHEMA)


def new_prediction_ids(count: int) -> list[str]:
    return [new_prediction_id() for _ in range(count)]


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
