"""Fixtures of the end-to-end tests."""

import shutil
from pathlib import Path

import pytest

from training_assets.core import paths


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME with the instance config the project ships."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(paths.PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home
