"""The trained model, logged to MLflow."""

from importlib.metadata import version

import mlflow.sklearn
import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset
from mlflow.models import infer_signature

from training_assets import drift, training
from training_assets.config import ModelConfig
from training_assets.resources.mlflow import MlflowTracking, run_link


@asset(group_name="training", io_manager_key="json_io_manager", kinds={"mlflow", "sklearn"})
def trained_model(
    context: AssetExecutionContext,
    config: ModelConfig,
    train_x: pd.DataFrame,
    train_y: pd.Series,
    mlflow_tracking: MlflowTracking,
) -> dict:
    """ElasticNet behind imputation and scaling, fit on the training split and logged to MLflow."""
    model = training.fit_elastic_net(
        train_x, train_y, config.alpha, config.l1_ratio, config.random_state
    )
    tracking = mlflow_tracking.tracking
    tracking.log_params(
        {
            "alpha": config.alpha,
            "l1_ratio": config.l1_ratio,
            "random_state": config.random_state,
            "train_rows": len(train_x),
            "features": ",".join(train_x.columns),
        }
    )
    example = train_x.head(5)
    # Logged into the run that the tracking resource made active for this Dagster run.
    model_info = mlflow.sklearn.log_model(
        sk_model=model,
        name="model",
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        # MLflow stores sklearn models with skops, which refuses unlisted types on load;
        # the imputer keeps its fitted dtype, a plain numpy.dtype.
        skops_trusted_types=["numpy.dtype"],
        pip_requirements=serving_requirements(),
    )
    # The drift sensor compares new data against the champion's training features.
    tracking.log_dict(
        drift.feature_profile(train_x, list(train_x.columns)), REFERENCE_PROFILE_ARTIFACT
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
            "coefficients": MetadataValue.json(training.coefficients(model)),
        }
    )
    return record


REFERENCE_PROFILE_ARTIFACT = "reference_profile.json"

# What a serving environment needs to load the model, pinned to the versions that trained it.
_SERVING_PACKAGES = ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "skops")


def serving_requirements() -> list[str]:
    """Pinned pip requirements of the logged model.

    Given explicitly because MLflow's inference of them reloads the model in a subprocess,
    which takes about ten seconds, longer than the rest of the job on the sample.
    """
    return [f"{package}=={version(package)}" for package in _SERVING_PACKAGES]
