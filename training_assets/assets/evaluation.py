"""The trained model's scores on the held-out split."""

import time

import mlflow.sklearn
import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset
from mlflow.entities import Metric

from training_assets import training
from training_assets.resources.mlflow import MlflowTracking


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
    metrics = training.regression_metrics(model, test_x, test_y, train_y)
    # Into the model's own run, even when this asset is rematerialized in a later Dagster run.
    now_ms = int(time.time() * 1000)
    mlflow_tracking.tracking.tracking_client.log_batch(
        trained_model["run_id"],
        metrics=[Metric(name, float(value), now_ms, 0) for name, value in metrics.items()],
    )
    context.add_output_metadata(
        {name: MetadataValue.float(float(value)) for name, value in metrics.items()}
    )
    return {**metrics, "run_id": trained_model["run_id"], "model_uri": trained_model["model_uri"]}
