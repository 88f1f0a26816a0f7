"""The trained model's scores on the held-out split."""

import mlflow.sklearn
import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset

from training_assets.core.ml.metrics import regression_metrics
from training_assets.core.tracking.model_log import log_scores
from training_assets.defs.resources.mlflow import MlflowTracking


@asset(group_name="training", io_manager_key="json_io_manager", kinds={"mlflow"}, code_version="1")
def evaluation(
    context: AssetExecutionContext,
    trained_model: dict,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    train_y: pd.Series,
    mlflow_tracking: MlflowTracking,
) -> dict:
    """Test-split RMSE, MAE and R² of the trained model, and the mean predictor's RMSE."""
    model = mlflow.sklearn.load_model(trained_model["model_uri"])
    metrics = regression_metrics(model, test_x, test_y, train_y)
    # Into the model's own run, even when this asset is rematerialized in a later Dagster run.
    log_scores(mlflow_tracking.tracking.tracking_client, trained_model["run_id"], metrics)
    context.add_output_metadata(
        {name: MetadataValue.float(float(value)) for name, value in metrics.items()}
    )
    return {**metrics, "run_id": trained_model["run_id"], "model_uri": trained_model["model_uri"]}
