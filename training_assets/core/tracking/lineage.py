"""What ties a logged model to the data and code that made it, as plain functions.

No Dagster here: the model asset adds the Dagster run to these tags, and the benchmark's plain
script logs the same lineage without it.
"""

import hashlib
import json
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
# The lineage tags that decide whether a new model could differ from the champion: the same
# data, code and config train the same model, so it is not registered again.
REPRODUCIBILITY_KEYS = (DATA_DIGEST_KEY, "code_digest", "config_digest")
REFERENCE_PROFILE_ARTIFACT = "reference_profile.json"
RUN_CONFIG_ARTIFACT = "run_config.json"
REPORT_ARTIFACT = "model_report.html"
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


def code_digest() -> str:
    """A SHA-256 over the pipeline's code and feature definitions (every .py file of the
    package and the feature repo, by relative path and bytes): the code version of a model,
    whether or not the tree is committed."""
    digest = hashlib.sha256()
    for root in (paths.PROJECT_ROOT / "training_assets", paths.feature_repo()):
        for path in sorted(root.rglob("*.py")):
            # By path within its root, so the same code digests the same wherever it lies.
            digest.update(f"{root.name}/{path.relative_to(root)}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def config_digest(run_config: dict) -> str:
    """A SHA-256 of a run config, independent of key order."""
    return hashlib.sha256(json.dumps(run_config, sort_keys=True, default=str).encode()).hexdigest()


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
