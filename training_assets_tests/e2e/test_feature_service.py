"""The model's inputs come from the feature repo: a feature added to the FeatureService, with
its Feast type and its range in field tags, is trained on and gated with no code edit."""

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckSeverity

from training_assets.core import paths
from training_assets.definitions import defs
from training_assets_tests.conftest import mlflow_pointed_at
from training_assets_tests.e2e.outputs import stored_frame, stored_training_table

MODEL_NAME = "sklearn-elastic-net-reg"
NEW_FIELD = """        Field(
            name="avg_rating",
            dtype=Float64,
            description="Mean customer rating, 1 to 5.",
            tags={"min": "1", "max": "5"},
        ),
    ],"""


@pytest.fixture
def repo_with_rating(working_area: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's feature repo whose view and service add `avg_rating`, deployed
    as the code location's repo."""
    repo = tmp_path / "feature_repo"
    shutil.copytree(paths.FEATURE_REPO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    module = repo / "driver_repo.py"
    source = module.read_text()
    edited = (
        source.replace(
            "from feast.types import Float32, Int32",
            "from feast.types import Float32, Float64, Int32",
        )
        .replace("        ),\n    ],", "        ),\n" + NEW_FIELD, 1)
        .replace('"acc_rate", "avg_daily_trips"]]', '"acc_rate", "avg_daily_trips", "avg_rating"]]')
    )
    # Once in the view's schema, once in the service.
    assert edited.count("avg_rating") == 2, "the repo's layout changed; update this edit"
    module.write_text(edited)
    monkeypatch.setenv(paths.FEATURE_REPO_ENV, str(repo))
    return repo


def stats_with_rating(path: Path, ratings: np.ndarray | None = None) -> Path:
    """The sample's stats file with an `avg_rating` column, written to `path`."""
    stats = pd.read_parquet(paths.default_driver_stats_path())
    rng = np.random.default_rng(3)
    stats["avg_rating"] = rng.uniform(1, 5, len(stats)) if ratings is None else ratings
    stats.to_parquet(path, index=False)
    return path


def run_config(stats: Path) -> dict:
    return {"resources": {"feast": {"config": {"driver_stats_path": str(stats)}}}}


def test_a_feature_added_to_the_service_is_trained_on(
    repo_with_rating, tmp_path, instance, mlflow_client
):
    stats = stats_with_rating(tmp_path / "stats.parquet")

    result = defs.resolve_job_def("training_job").execute_in_process(
        instance=instance, run_config=run_config(stats)
    )

    assert result.success
    features = ["conv_rate", "acc_rate", "avg_daily_trips", "avg_rating"]
    assert list(stored_frame(result.run_id, "train_x").columns) == features
    table = stored_training_table(result.run_id)
    assert str(table.schema.field("avg_rating").type) == "double"
    data = result.asset_materializations_for_node("training_data")[0].metadata
    declared = {f["name"]: f for f in data["features"].value}
    assert (declared["avg_rating"]["minimum"], declared["avg_rating"]["maximum"]) == (1.0, 5.0)
    columns = {c.name: c for c in data["dagster/column_schema"].value.columns}
    assert columns["avg_rating"].type == "float64"
    model = result.asset_materializations_for_node("trained_model")[0].metadata
    assert list(model["coefficients"].value) == features
    (version,) = mlflow_client.search_model_versions(f"name='{MODEL_NAME}'")
    with mlflow_pointed_at(mlflow_client.tracking_uri):
        info = mlflow.models.get_model_info(f"models:/{MODEL_NAME}/{version.version}")
    assert info.signature.inputs.input_names() == features


def test_a_value_outside_the_tagged_range_fails_the_range_gate(
    repo_with_rating, tmp_path, instance, mlflow_client
):
    ratings = np.full(len(pd.read_parquet(paths.default_driver_stats_path())), 4.0)
    ratings[::2] = 7.0
    stats = stats_with_rating(tmp_path / "stats.parquet", ratings)

    result = defs.resolve_job_def("training_job").execute_in_process(
        instance=instance, run_config=run_config(stats), raise_on_error=False
    )

    assert not result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    in_range = checks["feature_values_in_range"]
    assert not in_range.passed and in_range.severity == AssetCheckSeverity.ERROR
    assert in_range.metadata["expected_ranges"].value["avg_rating"] == "[1, 5]"
    assert list(in_range.metadata["out_of_range"].value) == ["avg_rating"]
    assert mlflow_client.search_model_versions(f"name='{MODEL_NAME}'") == []
