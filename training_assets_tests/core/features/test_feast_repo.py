"""Loading the Feast repo with training_assets.core.features.feast_repo.load_repo from any cwd."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from training_assets.core import paths
from training_assets.core.features import feast_repo
from training_assets.core.features.feast_repo import load_repo

# What Feast itself finds: parse_repo imports each module by its path relative to the cwd.
PARSE_REPO = textwrap.dedent(
    """
    import json
    from pathlib import Path

    from feast.repo_operations import parse_repo

    from training_assets_tests.core.features.test_feast_repo import names

    print(json.dumps(names(parse_repo(Path.cwd()))))
    """
)


def names(contents) -> dict[str, list[str]]:
    return {
        "entities": sorted(o.name for o in contents.entities),
        "feature_views": sorted(o.name for o in contents.feature_views),
        "data_sources": sorted(o.name for o in contents.data_sources),
        "feature_services": sorted(o.name for o in contents.feature_services),
        "on_demand_feature_views": sorted(o.name for o in contents.on_demand_feature_views),
        "stream_feature_views": sorted(o.name for o in contents.stream_feature_views),
    }


@pytest.fixture(scope="module")
def feast_names() -> dict[str, list[str]]:
    completed = subprocess.run(
        [sys.executable, "-c", PARSE_REPO],
        cwd=paths.FEATURE_REPO,
        # The repo as cwd for parse_repo, the project on the path for `names`.
        env={**os.environ, "PYTHONPATH": str(paths.PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_load_repo_from_another_directory_finds_what_feast_finds(
    feast_names, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)

    found = names(load_repo(paths.FEATURE_REPO))

    assert found == feast_names
    # The repo's own objects are there, so the comparison is not between two empty lists.
    assert "driver" in found["entities"]
    assert found["feature_views"] == ["driver_stats"]
    assert found["data_sources"] == ["driver_stats_source"]
    assert found["feature_services"] == ["driver_activity_model"]


def test_load_repo_leaves_cwd_sys_path_and_sys_modules_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    cwd, path, modules = os.getcwd(), list(sys.path), set(sys.modules)

    load_repo(paths.FEATURE_REPO)

    assert os.getcwd() == cwd
    assert sys.path == path
    assert not [name for name in set(sys.modules) - modules if "driver_repo" in name]


@pytest.mark.parametrize(
    ("settings", "moved"),
    [
        (None, True),
        ("../var/feast/registry.db", True),
        ({"registry_type": "file", "path": "registry.db"}, True),
        ({"registry_type": "sql", "path": "postgresql+psycopg2://u:p@db/feast"}, False),
        ("s3://bucket/registry.pb", False),
        ({"registry_type": "remote", "path": "feast-registry:6570"}, False),
    ],
)
def test_only_an_embedded_registry_file_is_moved_into_the_working_area(settings, moved):
    from training_assets.core.features.feast_repo import _is_file_registry

    assert _is_file_registry(settings) is moved


def test_a_redis_connection_string_gets_short_timeouts_and_no_retry_in_place_of_its_own():
    configured = "redis:6379,db=0,socket_connect_timeout=2,password=p,socket_timeout=2"

    assert feast_repo.fail_fast_redis(configured, 0.05) == (
        "redis:6379,db=0,password=p,socket_connect_timeout=0.05,socket_timeout=0.05,retry=null"
    )
