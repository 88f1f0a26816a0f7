"""The trained model's scores on the held-out split."""

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset

from training_assets.core.data.table_query import TableFile, column_mean
from training_assets.core.gates.champion_gates import ChallengerJudgement
from training_assets.core.ml.metrics import regression_metrics
from training_assets.core.records import Evaluation, TrainedModel
from training_assets.core.tracking.model_files import load_sklearn
from training_assets.core.tracking.model_log import log_scores
from training_assets.defs.metadata import score_metadata
from training_assets.defs.resources.mlflow import MlflowTracking
from training_assets.defs.tags import OWNERS


@asset(
    owners=OWNERS,
    group_name="training",
    io_manager_key="json_io_manager",
    kinds={"mlflow"},
    code_version="2",
)
def evaluation(
    context: AssetExecutionContext,
    trained_model: TrainedModel,
    challenger_judgement: ChallengerJudgement,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    train_y: TableFile,
    mlflow_tracking: MlflowTracking,
) -> Evaluation:
    """Test-split RMSE, MAE and R² of the trained model, the mean predictor's RMSE, and the
    champion version the model was judged against (which challenger_judgement pinned, for the
    champion gates and the registration)."""
    model = load_sklearn(mlflow_tracking.client, trained_model.model_uri)
    # The training labels' mean, the baseline's prediction, from their file: not 80M labels
    # loaded for one number.
    metrics = regression_metrics(model, test_x, test_y, column_mean(train_y))
    # Into the model's own run, even when this asset is rematerialized in a later Dagster run.
    log_scores(mlflow_tracking.client, trained_model.run_id, metrics)
    champion_version = challenger_judgement.champion_version
    context.add_output_metadata(
        {
            **score_metadata(metrics),
            "champion_version": MetadataValue.int(champion_version)
            if champion_version is not None
            else MetadataValue.text("none yet"),
        }
    )
    return Evaluation.of(trained_model, champion_version, metrics)
