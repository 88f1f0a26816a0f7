"""What ties a logged model to the data and code that made it, as plain functions.

No Dagster here: the model asset adds the Dagster run to these tags, and the benchmark's plain
script logs the same lineage without it.
"""

import subprocess
from importlib.metadata import version

import pandas as pd
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.models import infer_signature

from training_assets.core import paths

# Prefix of the lineage tags on MLflow runs and registered versions.
LINEAGE_PREFIX = "training_assets."
# Metadata keys of the training_data materialization that name the data it read; the model's
# lineage tags carry the same keys under LINEAGE_PREFIX.
DATA_DIGEST_KEY = "data_digest"
DATA_LINEAGE_KEYS = (DATA_DIGEST_KEY, "orders_version", "driver_stats_version", "orders_path")
REFERENCE_PROFILE_ARTIFACT = "reference_profile.json"
RUN_CONFIG_ARTIFACT = "run_config.json"
# What a serving environment needs to load the model, pinned to the versions that trained it.
SERVING_PACKAGES = ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "skops")


def training_dataset(train_x: pd.DataFrame, lineage: dict[str, str]) -> MetaDataset:
    """The training data as an MLflow dataset: its source, its data digest and its schema.

    Built from the digest the pipeline already has; `mlflow.data.from_pandas` would hash and
    profile every row again (seconds at millions of rows).
    """
    return MetaDataset(
        source=resolve_dataset_source(lineage.get(f"{LINEAGE_PREFIX}orders_path", "unknown")),
        name="training_data",
        digest=lineage.get(f"{LINEAGE_PREFIX}data_digest", "unknown")[:32],
        schema=infer_signature(train_x.head(100)).inputs,
    )


def git_commit() -> str:
    """The project's checked-out commit, with "-dirty" when the tree has changes."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def serving_requirements() -> list[str]:
    """Pinned pip requirements of the logged model.

    Given explicitly because MLflow's inference of them reloads the model in a subprocess,
    which takes about ten seconds, longer than the rest of the job on the sample.
    """
    return [f"{package}=={version(package)}" for package in SERVING_PACKAGES]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=paths.PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()
