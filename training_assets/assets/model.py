"""The trained model, logged to MLflow with the lineage that reproduces it."""

import mlflow
import mlflow.sklearn
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MetadataValue, asset
from mlflow.models import infer_signature

from training_assets import drift, training
from training_assets.assets.training_data import DATA_DIGEST_KEY
from training_assets.config import ModelConfig
from training_assets.lineage import (
    LINEAGE_PREFIX,
    REFERENCE_PROFILE_ARTIFACT,
    RUN_CONFIG_ARTIFACT,
    git_commit,
    serving_requirements,
    training_dataset,
)
from training_assets.resources.mlflow import MlflowTracking, run_link


@asset(
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
) -> dict:
    """ElasticNet behind imputation and scaling, fit on the training split and logged to MLflow."""
    tracking = mlflow_tracking.tracking
    if config.search:
        model, candidates = training.search_elastic_net(
            train_x,
            train_y,
            config.alpha_grid,
            config.l1_ratio_grid,
            config.cv_folds,
            config.random_state,
        )
        for candidate in candidates:
            with mlflow.start_run(run_name="candidate", nested=True):
                mlflow.log_params({"alpha": candidate["alpha"], "l1_ratio": candidate["l1_ratio"]})
                mlflow.log_metric("cv_rmse", candidate["cv_rmse"])
        best = min(candidates, key=lambda candidate: candidate["cv_rmse"])
        alpha, l1_ratio = best["alpha"], best["l1_ratio"]
        context.log.info(f"Search chose alpha={alpha}, l1_ratio={l1_ratio} of {len(candidates)}")
    else:
        alpha, l1_ratio = config.alpha, config.l1_ratio
        model = training.fit_elastic_net(train_x, train_y, alpha, l1_ratio, config.random_state)

    tracking.log_params(
        {
            "alpha": alpha,
            "l1_ratio": l1_ratio,
            "random_state": config.random_state,
            "search": config.search,
            "train_rows": len(train_x),
            "features": ",".join(train_x.columns),
        }
    )
    lineage = lineage_tags(context)
    tracking.set_tags(lineage)
    tracking.log_dict(dict(context.run.run_config), RUN_CONFIG_ARTIFACT)
    mlflow.log_input(training_dataset(train_x, lineage), context="training")
    # The drift gate and sensor compare new data against the champion's training features.
    tracking.log_dict(
        {
            # Deciles of a million-row sample are as good as the full table's and far cheaper.
            "features": drift.feature_profile(
                train_x.sample(n=min(len(train_x), 1_000_000), random_state=0),
                list(train_x.columns),
            ),
            "label_rate": float(train_y.mean()),
        },
        REFERENCE_PROFILE_ARTIFACT,
    )
    example = train_x.head(5)
    # Logged into the run that the tracking resource made active for this Dagster run.
    model_info = mlflow.sklearn.log_model(
        sk_model=model,
        name="model",
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        skops_trusted_types=list(training.SKOPS_TRUSTED_TYPES),
        pip_requirements=serving_requirements(),
    )
    record = {
        "run_id": mlflow_tracking.run_id,
        "model_uri": model_info.model_uri,
        "model_id": model_info.model_id,
        "experiment_id": tracking.experiment.experiment_id,
    }
    context.add_output_metadata(
        {
            "mlflow_run_id": record["run_id"],
            "model_uri": record["model_uri"],
            "mlflow_run": run_link(record["experiment_id"], record["run_id"]),
            "alpha": alpha,
            "l1_ratio": l1_ratio,
            "coefficients": MetadataValue.json(training.coefficients(model)),
        }
    )
    return record


def lineage_tags(context: AssetExecutionContext) -> dict[str, str]:
    """Tags tying a model to its Dagster run, data versions and code.

    The data versions come from the training_data materialization this model was trained from.
    """
    tags = {
        f"{LINEAGE_PREFIX}dagster_run_id": context.run.run_id,
        f"{LINEAGE_PREFIX}git_commit": git_commit(),
    }
    event = context.instance.get_latest_materialization_event(AssetKey("training_data"))
    if event is not None and event.asset_materialization is not None:
        metadata = event.asset_materialization.metadata
        for key in (DATA_DIGEST_KEY, "orders_version", "driver_stats_version", "orders_path"):
            if key in metadata:
                tags[f"{LINEAGE_PREFIX}{key}"] = str(metadata[key].value)
    return tags


def reference_profile(run_id: str) -> dict:
    """The training-data profile stored with an MLflow run: feature deciles and label rate."""
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{REFERENCE_PROFILE_ARTIFACT}")


def run_config_of(run_id: str) -> dict:
    """The Dagster run config stored with an MLflow run."""
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{RUN_CONFIG_ARTIFACT}")
