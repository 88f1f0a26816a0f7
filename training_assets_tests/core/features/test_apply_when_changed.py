"""The feature repo is applied only when what the registry holds differs: unchanged
definitions are not applied again; a changed definition, another feature file or a new
registry are."""

import shutil
from pathlib import Path

import pytest

from training_assets.core import paths
from training_assets.core.features import feast_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the project's feature repo that the test may edit."""
    copy = tmp_path / "feature_repo"
    shutil.copytree(paths.feature_repo(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def store(repo: Path, registry: Path):
    return feast_repo.feature_store(repo, registry=registry, online_store=registry.parent / "o.db")


def test_unchanged_definitions_are_not_applied_again(working_area, repo, tmp_path):
    stats = paths.default_driver_stats_path()
    registry = tmp_path / "feast" / "registry.db"

    first = feast_repo.apply_repo(store(repo, registry), repo, stats)
    second = feast_repo.apply_repo(store(repo, registry), repo, stats)

    assert first["applied"] and not second["applied"]
    assert second["repo_digest"] == first["repo_digest"]
    for key in ("entities", "feature_views", "feature_services"):
        assert second[key] == first[key], key
    service = store(repo, registry).get_feature_service(first["feature_services"][0])
    assert service.tags[feast_repo.REPO_DIGEST_TAG] == first["repo_digest"]


def test_a_changed_definition_another_file_or_a_new_registry_are_applied(
    working_area, repo, tmp_path
):
    stats = paths.default_driver_stats_path()
    registry = tmp_path / "feast" / "registry.db"
    feast_repo.apply_repo(store(repo, registry), repo, stats)

    definitions = repo / "driver_repo.py"
    definitions.write_text(
        definitions.read_text().replace(
            '"Share of offers accepted."', '"Share of offers the driver accepted."'
        )
    )
    changed = feast_repo.apply_repo(store(repo, registry), repo, stats)
    moved = feast_repo.apply_repo(store(repo, registry), repo, tmp_path / "other.parquet")
    fresh = feast_repo.apply_repo(store(repo, tmp_path / "new" / "registry.db"), repo, stats)
    forced = feast_repo.apply_repo(store(repo, registry), repo, tmp_path / "other.parquet", True)

    assert changed["applied"] and moved["applied"] and fresh["applied"] and forced["applied"]
    view = store(repo, registry).get_feature_view("driver_stats")
    assert {f.name: f.description for f in view.features}["acc_rate"] == (
        "Share of offers the driver accepted."
    )


def test_a_skipped_apply_still_makes_the_tables_of_a_new_online_store(working_area, repo, tmp_path):
    from training_assets.core.schema import FEATURE_SERVICE

    stats = paths.default_driver_stats_path()
    registry = tmp_path / "feast" / "registry.db"
    feast_repo.apply_repo(store(repo, registry), repo, stats)
    moved = feast_repo.feature_store(
        repo, registry=registry, online_store=tmp_path / "elsewhere" / "online.db"
    )

    skipped = feast_repo.apply_repo(moved, repo, stats)
    [loaded] = feast_repo.materialize_online(moved, FEATURE_SERVICE)

    assert not skipped["applied"]
    assert loaded["how"] == "initial"
