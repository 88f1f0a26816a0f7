"""Clickable links between Dagster and MLflow, both ways.

Each UI's base URL is a setting, since neither server can know the address users reach the
other at: the MLflow UI's is `mlflow_store.ui_url` (else $TRAINING_ASSETS_MLFLOW_UI_URL, else
the tracking server, else `mlflow ui`'s default), Dagster's is $TRAINING_ASSETS_DAGSTER_UI_URL
(else `dagster dev`'s default).
"""

from urllib.parse import quote

from dagster import MetadataValue

from training_assets.core import settings

DAGSTER_UI_ENV = settings.DAGSTER_UI_ENV
MLFLOW_UI_ENV = settings.MLFLOW_UI_ENV
DAGSTER_UI_DEFAULT = "http://127.0.0.1:3000"
MLFLOW_UI_DEFAULT = "http://127.0.0.1:5000"


def dagster_run_url(run_id: str) -> str:
    """The Dagster UI's page of run `run_id`."""
    from training_assets.core.secrets import redact_uri

    base = redact_uri(settings.dagster_ui_url() or DAGSTER_UI_DEFAULT)
    return f"{base.rstrip('/')}/runs/{run_id}"


def mlflow_run(ui_url: str, experiment_id: str, run_id: str) -> MetadataValue:
    return MetadataValue.url(f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}")


def mlflow_version(ui_url: str, model_name: str, version: int | str) -> MetadataValue:
    return MetadataValue.url(
        f"{ui_url.rstrip('/')}/#/models/{quote(model_name)}/versions/{version}"
    )


def mlflow_artifact(ui_url: str, experiment_id: str, run_id: str, path: str) -> MetadataValue:
    """The MLflow UI's view of one artifact of a run: it renders an HTML report in place,
    where a local path opens nothing from a browser on another machine."""
    return MetadataValue.url(
        f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}/artifacts/{path}"
    )
