"""Logging a trained model to the active MLflow run with everything that reproduces and judges
it, and logging its scores into that run later."""

import time

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.entities import Metric
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from sklearn.pipeline import Pipeline

from training_assets.core.ml.elastic_net import SKOPS_TRUSTED_TYPES
from training_assets.core.tracking.evidence import PASSED, REJECTED, VERDICT_TAG
from training_assets.core.tracking.lineage import (
    LINEAGE_PREFIX,
    REFERENCE_PROFILE_ARTIFACT,
    REPORT_ARTIFACT,
    RUN_CONFIG_ARTIFACT,
    serving_requirements,
    training_dataset,
)
from training_assets.core.tracking.profiles import training_profile

# Tags on the model's MLflow run: what the gates said (VERDICT_TAG), for a search such as
# tags.`training_assets.gate_verdict` = 'rejected', and which gates stopped it.
FAILED_GATES_TAG = f"{LINEAGE_PREFIX}gates_failed"


def log_trained_model(
    model: Pipeline,
    train_x: pd.DataFrame,
    train_y: pd.Series,
    params: dict,
    lineage: dict[str, str],
    run_config: dict,
) -> ModelInfo:
    """Log the fitted model into the active MLflow run with its params, lineage tags, run
    config, training dataset and training-data profile (which the drift gate and sensor compare
    new data against)."""
    mlflow.log_params({**params, "train_rows": len(train_x), "features": ",".join(train_x.columns)})
    mlflow.set_tags(lineage)
    mlflow.log_dict(run_config, RUN_CONFIG_ARTIFACT)
    mlflow.log_input(training_dataset(train_x, lineage), context="training")
    mlflow.log_dict(training_profile(train_x, train_y), REFERENCE_PROFILE_ARTIFACT)
    example = train_x.head(5)
    return mlflow.sklearn.log_model(
        sk_model=model,
        name="model",
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
        pip_requirements=serving_requirements(),
    )


def log_scores(client: mlflow.MlflowClient, run_id: str, scores: dict[str, float]) -> None:
    """Log `scores` as metrics into the run `run_id`, active or not."""
    now_ms = int(time.time() * 1000)
    client.log_batch(
        run_id, metrics=[Metric(name, float(value), now_ms, 0) for name, value in scores.items()]
    )


def log_report(client: mlflow.MlflowClient, run_id: str, page: str, failed: list[str]) -> str:
    """Log the model report `page` into the run `run_id` and tag the run with the gates in
    `failed` that stopped it; returns the verdict, "rejected" or "passed"."""
    client.log_text(run_id, page, REPORT_ARTIFACT)
    verdict = REJECTED if failed else PASSED
    client.set_tag(run_id, VERDICT_TAG, verdict)
    client.set_tag(run_id, FAILED_GATES_TAG, ",".join(failed) or "none")
    return verdict
