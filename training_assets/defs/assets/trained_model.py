"""The trained model, logged to MLflow with the lineage that reproduces it."""

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, JobDefinition, MetadataValue, asset
from dagster_shared.check import CheckError
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

from training_assets.core import faults
from training_assets.core.ml.elastic_net import coefficients, fit_elastic_net, search_elastic_net
from training_assets.core.records import TrainedModel
from training_assets.core.secrets import redact_config
from training_assets.core.tracking.lineage import (
    DATA_LINEAGE_KEYS,
    LINEAGE_PREFIX,
    code_digest,
    config_digest,
    git_commit,
)
from training_assets.core.tracking.model_log import log_candidates, log_trained_model
from training_assets.defs import links
from training_assets.defs.config import ModelConfig, effective_run_config
from training_assets.defs.materializations import materialization_for
from training_assets.defs.resources.mlflow import MlflowTracking
from training_assets.defs.tags import OWNERS, what_ran

DATA_DIGEST_TAG = f"{LINEAGE_PREFIX}data_digest"
CONFIG_DIGEST_TAG = f"{LINEAGE_PREFIX}config_digest"


@asset(
    owners=OWNERS,
    group_name="training",
    io_manager_key="json_io_manager",
    kinds={"mlflow", "sklearn"},
    code_version="1",
)
def trained_model(
    context: AssetExecutionContext,
    config: ModelConfig,
    train_x: pd.DataFrame,
    train_y: pd.Series,
    mlflow_tracking: MlflowTracking,
) -> TrainedModel:
    """ElasticNet behind imputation and scaling, fit on the training split and logged to MLflow."""
    client, run_id = mlflow_tracking.client, mlflow_tracking.run_id
    if config.search:
        model, candidates = search_elastic_net(
            train_x,
            train_y,
            config.alpha_grid,
            config.l1_ratio_grid,
            config.cv_folds,
            config.random_state,
        )
        log_candidates(client, run_id, candidates)
        best = min(candidates, key=lambda candidate: candidate["cv_rmse"])
        alpha, l1_ratio = best["alpha"], best["l1_ratio"]
        context.log.info(f"Search chose alpha={alpha}, l1_ratio={l1_ratio} of {len(candidates)}")
    else:
        alpha, l1_ratio = config.alpha, config.l1_ratio
        model = fit_elastic_net(train_x, train_y, alpha, l1_ratio, config.random_state)

    faults.point(faults.TRAINING)
    lineage = lineage_tags(context)
    # Named for what ran, not for the job: the data and config it was trained on.
    client.set_tag(
        run_id,
        MLFLOW_RUN_NAME,
        f"{what_ran(context.job_name, context.run.asset_selection)} "
        f"data {lineage.get(DATA_DIGEST_TAG, 'unknown')[:8]} "
        f"config {lineage[CONFIG_DIGEST_TAG][:8]} alpha {alpha} l1 {l1_ratio}",
    )
    model_info = log_trained_model(
        client,
        run_id,
        model,
        train_x,
        train_y,
        params={
            "alpha": alpha,
            "l1_ratio": l1_ratio,
            "random_state": config.random_state,
            "search": config.search,
        },
        lineage=lineage,
        run_config=redact_config(dict(context.run.run_config)),
    )
    record = TrainedModel(
        run_id=run_id,
        model_uri=model_info.model_uri,
        model_id=model_info.model_id,
        experiment_id=mlflow_tracking.experiment_id,
    )
    context.add_output_metadata(
        {
            "mlflow_run_id": record.run_id,
            "model_uri": record.model_uri,
            "mlflow_run": links.mlflow_run(
                mlflow_tracking.store.ui_base_url(), record.experiment_id, record.run_id
            ),
            "alpha": alpha,
            "l1_ratio": l1_ratio,
            "coefficients": MetadataValue.json(coefficients(model)),
        }
    )
    return record


def lineage_tags(context: AssetExecutionContext) -> dict[str, str]:
    """Tags tying a model to its Dagster run, data versions and code.

    The data versions come from the training_data materialization this model was trained from:
    this run's, else the latest.
    """
    tags = {
        f"{LINEAGE_PREFIX}dagster_run_id": context.run.run_id,
        # Back to Dagster from the MLflow UI: the run's page.
        f"{LINEAGE_PREFIX}dagster_run_url": links.dagster_run_url(context.run.run_id),
        f"{LINEAGE_PREFIX}git_commit": git_commit(),
        f"{LINEAGE_PREFIX}code_digest": code_digest(),
        # Of the config in effect, defaults filled in: a run given the defaults written out
        # is the same run as one given nothing.
        f"{LINEAGE_PREFIX}config_digest": config_digest(
            effective_run_config(_whole_job(context), context.run.run_config)
        ),
    }
    event = materialization_for(context.instance, context.run.run_id, AssetKey("training_data"))
    if event is not None and event.asset_materialization is not None:
        metadata = event.asset_materialization.metadata
        for key in DATA_LINEAGE_KEYS:
            if key in metadata:
                tags[f"{LINEAGE_PREFIX}{key}"] = str(metadata[key].value)
    return tags


def _whole_job(context: AssetExecutionContext) -> JobDefinition:
    """The run's job as defined, not the subset a re-execution selects, which lacks the config
    of the steps it leaves out."""
    job = context.job_def
    if not job.is_subset:
        return job
    try:
        return context.repository_def.get_job(context.job_name)
    except CheckError:
        # Executed outside a code location (`execute_in_process` of a selection, as tests and
        # notebooks do): the subset is all there is, and its steps' config is what ran.
        return job
