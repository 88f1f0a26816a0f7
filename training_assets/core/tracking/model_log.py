"""Logging a trained model to its MLflow run with everything that reproduces and judges it, the
candidates a search tried as that run's children, and the model's scores later; each through
an explicit client and run id, never mlflow's process-wide active run."""

import tempfile
import time
from pathlib import Path

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.data.dataset import Dataset
from mlflow.entities import Dataset as DatasetEntity
from mlflow.entities import (
    DatasetInput,
    InputTag,
    LoggedModelOutput,
    LoggedModelStatus,
    Metric,
    Param,
    RunStatus,
    RunTag,
)
from mlflow.models import Model, infer_signature
from mlflow.models.model import ModelInfo
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_PARENT_RUN_ID
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
# The name of the logged model within its run, as `mlflow.sklearn.log_model(name=...)` takes it.
MODEL_NAME_IN_RUN = "model"
CANDIDATE_RUN_NAME = "candidate"


def log_trained_model(
    client: mlflow.MlflowClient,
    run_id: str,
    model: Pipeline,
    train_x: pd.DataFrame,
    train_y: pd.Series,
    params: dict,
    lineage: dict[str, str],
    run_config: dict,
) -> ModelInfo:
    """Log the fitted model into the run `run_id` with its params, lineage tags, run config,
    training dataset and training-data profile (which the drift gate and sensor compare new
    data against)."""
    logged_params = {**params, "train_rows": len(train_x), "features": ",".join(train_x.columns)}
    client.log_batch(
        run_id,
        params=[Param(key, str(value)) for key, value in logged_params.items()],
        tags=[RunTag(key, str(value)) for key, value in lineage.items()],
    )
    client.log_dict(run_id, run_config, RUN_CONFIG_ARTIFACT)
    client.log_inputs(run_id, [_dataset_input(training_dataset(train_x, lineage), "training")])
    client.log_dict(run_id, training_profile(train_x, train_y), REFERENCE_PROFILE_ARTIFACT)
    return log_sklearn_model(client, run_id, model, train_x.head(5))


def _dataset_input(dataset: Dataset, context: str) -> DatasetInput:
    """`dataset` as the run input `mlflow.log_input(dataset, context)` records."""
    fields = dataset.to_dict()
    entity = DatasetEntity(
        name=fields["name"],
        digest=fields["digest"],
        source_type=fields["source_type"],
        source=fields["source"],
        schema=fields.get("schema"),
        profile=fields.get("profile"),
    )
    return DatasetInput(entity, tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)])


def log_sklearn_model(
    client: mlflow.MlflowClient, run_id: str, model: Pipeline, example: pd.DataFrame
) -> ModelInfo:
    """Log `model` as a LoggedModel of the run `run_id` (`models:/<model id>`, its logging run
    recorded on it), as `mlflow.sklearn.log_model` does for the active run.

    `log_model` takes a run id but reaches the store through mlflow's process-wide tracking URI;
    these are its steps on `client`: the LoggedModel with the run's params, the run's output,
    the saved model's files, and the READY (or FAILED) status.
    """
    run = client.get_run(run_id)
    logged = client.create_logged_model(
        run.info.experiment_id,
        name=MODEL_NAME_IN_RUN,
        source_run_id=run_id,
        params={key: str(value) for key, value in run.data.params.items()},
    )
    description = Model(
        artifact_path=logged.artifact_location,
        model_uuid=logged.model_id,
        run_id=run_id,
        model_id=logged.model_id,
    )
    try:
        client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
        with tempfile.TemporaryDirectory(prefix="model-") as folder:
            path = str(Path(folder) / MODEL_NAME_IN_RUN)
            mlflow.sklearn.save_model(
                model,
                path,
                mlflow_model=description,
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
                signature=infer_signature(example, model.predict(example)),
                input_example=example,
                skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
                pip_requirements=serving_requirements(),
            )
            client.log_model_artifacts(logged.model_id, path)
    except Exception:
        client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
        raise
    ready = client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    return description.get_model_info(ready)


def log_candidates(
    client: mlflow.MlflowClient, parent_run_id: str, candidates: list[dict]
) -> list[str]:
    """Log each candidate a search tried (`alpha`, `l1_ratio` and its `cv_rmse`) as a finished
    child run of `parent_run_id`; their run ids."""
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    now_ms = int(time.time() * 1000)
    children = []
    for candidate in candidates:
        child = client.create_run(
            experiment_id,
            run_name=CANDIDATE_RUN_NAME,
            tags={MLFLOW_PARENT_RUN_ID: parent_run_id},
        )
        client.log_batch(
            child.info.run_id,
            metrics=[Metric("cv_rmse", float(candidate["cv_rmse"]), now_ms, 0)],
            params=[Param(name, str(candidate[name])) for name in ("alpha", "l1_ratio")],
        )
        client.set_terminated(child.info.run_id, RunStatus.to_string(RunStatus.FINISHED))
        children.append(child.info.run_id)
    return children


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
