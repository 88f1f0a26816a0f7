"""A real sqlite MLflow store for the registry tests."""

import mlflow
import mlflow.sklearn
import pytest
from sklearn.dummy import DummyRegressor

from training_assets_tests.conftest import copy_empty_mlflow_db


@pytest.fixture
def store(tmp_path, empty_mlflow_db):
    """A sqlite MLflow store as the process's tracking store, with a helper that logs a model."""
    copy_empty_mlflow_db(empty_mlflow_db, tmp_path / "m.db")
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())

    def logged(status: str = "FINISHED") -> tuple[str, str]:
        run = client.create_run(experiment)
        with mlflow.start_run(run_id=run.info.run_id):
            info = mlflow.sklearn.log_model(
                DummyRegressor().fit([[0.0], [1.0]], [0.0, 1.0]),
                name="model",
                # Stated, as the pipeline states its own: inferring them takes seconds a
                # model (a child process imports the model's modules) and no test reads them.
                pip_requirements=["scikit-learn"],
            )
        if status != "RUNNING":
            client.set_terminated(run.info.run_id, status=status)
        else:
            client.update_run(run.info.run_id, status="RUNNING")
        return run.info.run_id, info.model_uri

    yield client, logged
    mlflow.set_tracking_uri(None)
