"""A world to serve: the sample's feature file applied and loaded into the online store, and
two registered versions of a model whose predictions differ, the first `@champion`."""

from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from training_assets.core import paths
from training_assets.core.features import feast_repo
from training_assets.core.schema import FEATURE_SERVICE
from training_assets_tests.conftest import mlflow_pointed_at
from training_assets_tests.core.features.test_online_store_state import logged_model

MODEL_NAME = "served-model"
UNKNOWN = 424242


@dataclass
class World:
    working_area: Path
    client: mlflow.MlflowClient
    drivers: list[int]

    def store(self, **options):
        return feast_repo.working_area_store(**options)

    def move(self, alias: str, version: int) -> None:
        self.client.set_registered_model_alias(MODEL_NAME, alias, str(version))


def registered_versions(client: mlflow.MlflowClient) -> None:
    """Version 1 fit on conv_rate's label, version 2 on acc_rate's: they answer differently."""
    stats = paths.default_driver_stats_path()
    for label in ("conv_rate", "acc_rate"):
        uri = logged_model(client, stats, label_feature=label)
        with mlflow_pointed_at(client.tracking_uri):
            mlflow.register_model(uri, MODEL_NAME)
    client.set_registered_model_alias(MODEL_NAME, "champion", "1")


def loaded_online_store() -> None:
    store = feast_repo.working_area_store()
    feast_repo.apply_repo(store, paths.feature_repo(), paths.default_driver_stats_path())
    feast_repo.materialize_online(store, FEATURE_SERVICE)


@pytest.fixture
def world(working_area, mlflow_client) -> World:
    registered_versions(mlflow_client)
    loaded_online_store()
    stats = pd.read_parquet(paths.default_driver_stats_path())
    return World(working_area, mlflow_client, sorted(int(d) for d in stats["driver_id"].unique()))
