"""What a model's MLflow run keeps about its training: the training-data profile that drift is
judged against, and the run config that reproduces it."""

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from training_assets.core.ml.drift import feature_profile
from training_assets.core.tracking.lineage import REFERENCE_PROFILE_ARTIFACT, RUN_CONFIG_ARTIFACT

# Deciles of a million-row sample are as good as the full table's and far cheaper.
PROFILE_SAMPLE_ROWS = 1_000_000


def training_profile(train_x: pd.DataFrame, train_y: pd.Series) -> dict:
    """Feature deciles and the label rate of the training split, JSON-serialisable."""
    if len(train_x) > PROFILE_SAMPLE_ROWS:
        # numpy's Generator draws the rows without shuffling all of them, as pandas' sample
        # does (7 s and 0.6 GB for 80M rows).
        rows = np.random.default_rng(0).choice(len(train_x), PROFILE_SAMPLE_ROWS, replace=False)
        sample = train_x.take(np.sort(rows))
    else:
        sample = train_x
    return {
        "features": feature_profile(sample, list(train_x.columns)),
        "label_rate": float(train_y.mean()),
    }


def reference_profile(client: mlflow.MlflowClient, run_id: str) -> dict:
    """The training-data profile stored with an MLflow run: feature deciles and label rate."""
    return _run_json(client, run_id, REFERENCE_PROFILE_ARTIFACT)


def run_config_of(client: mlflow.MlflowClient, run_id: str) -> dict:
    """The run config stored with an MLflow run."""
    return _run_json(client, run_id, RUN_CONFIG_ARTIFACT)


def _run_json(client: mlflow.MlflowClient, run_id: str, artifact: str) -> dict:
    """The JSON artifact `artifact` of the run `run_id`, as `mlflow.artifacts.load_dict` reads
    it but through `client`."""
    with tempfile.TemporaryDirectory(prefix="run-artifact-") as folder:
        return json.loads(Path(client.download_artifacts(run_id, artifact, folder)).read_text())
