"""A model's files fetched through an explicit client, whatever mlflow's process-wide tracking
URI says.

MLflow's loaders (`mlflow.pyfunc.load_model`, `mlflow.sklearn.load_model`,
`mlflow.models.get_model_info`) resolve a `models:/` URI on the process-wide tracking and
registry URIs and take no client. Here the client resolves the URI to the artifact location
of the model's files, which are downloaded with the client's tracking URI (a server's
`mlflow-artifacts:` location is relative to it) and loaded from the local copy.
"""

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import mlflow
import mlflow.artifacts
import mlflow.sklearn
from mlflow.exceptions import MlflowException

MODELS_SCHEME = "models:/"
# models:/<name>/<version>, models:/<name>@<alias> and models:/<model id>.
_VERSION = re.compile(r"^(?P<name>[^/@]+)/(?P<version>\d+)$")
_ALIAS = re.compile(r"^(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_MODEL_ID = re.compile(r"^[^/@]+$")


def model_location(client: mlflow.MlflowClient, model_uri: str) -> str:
    """Where the files of `model_uri` are: the artifact location of a logged model or of a
    registered version (by number or alias); any other URI as it is.

    Raises:
        MlflowException: for another form of `models:/` URI (a stage, "latest"), or when the
            registry or the tracking store has no such model.
    """
    if not model_uri.startswith(MODELS_SCHEME):
        return model_uri
    path = model_uri.removeprefix(MODELS_SCHEME)
    if found := _VERSION.match(path):
        return client.get_model_version_download_uri(found["name"], found["version"])
    if found := _ALIAS.match(path):
        version = client.get_model_version_by_alias(found["name"], found["alias"]).version
        return client.get_model_version_download_uri(found["name"], version)
    if _MODEL_ID.match(path):
        return client.get_logged_model(path).artifact_location
    raise MlflowException.invalid_parameter_value(
        f"{model_uri}: expected models:/<name>/<version>, models:/<name>@<alias> or "
        "models:/<model id>"
    )


@contextmanager
def local_model(client: mlflow.MlflowClient, model_uri: str) -> Iterator[str]:
    """The path of a local copy of the model's files, removed on exit."""
    location = model_location(client, model_uri)
    with tempfile.TemporaryDirectory(prefix="model-") as folder:
        if location.startswith("runs:/"):
            run_id, _, path = location.removeprefix("runs:/").partition("/")
            yield client.download_artifacts(run_id, path, folder)
        else:
            yield mlflow.artifacts.download_artifacts(
                artifact_uri=location, dst_path=folder, tracking_uri=client.tracking_uri
            )


def load_sklearn(client: mlflow.MlflowClient, model_uri: str):
    """The scikit-learn model at `model_uri`, loaded in full from its files."""
    with local_model(client, model_uri) as path:
        return mlflow.sklearn.load_model(path)
