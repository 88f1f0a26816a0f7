"""Where the embedded defaults keep their state.

Everything a run writes on the embedded defaults lives under one working area, so that a clone
is self-contained and a test can move all of it into a temporary directory with one variable.
Paths are resolved when a resource asks for them, never at import time.
"""

from pathlib import Path

from training_assets.core import settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FEATURE_REPO = PROJECT_ROOT / "feature_repo"
WORKING_AREA_ENV = settings.WORKING_AREA_ENV
FEATURE_REPO_ENV = settings.FEATURE_REPO_ENV


def feature_repo() -> Path:
    """The Feast repo: `$TRAINING_ASSETS_FEATURE_REPO`, else the project's `feature_repo/`."""
    return settings.feature_repo() or FEATURE_REPO


def working_area() -> Path:
    """The directory for generated state: `$TRAINING_ASSETS_HOME`, else `var/` in the project."""
    return settings.working_area() or PROJECT_ROOT / "var"


def default_orders_path() -> Path:
    """The orders folder: every `*.parquet` file dropped in it is part of the orders."""
    return working_area() / "data" / "orders"


def default_sample_orders_file() -> Path:
    return default_orders_path() / "sample.parquet"


def default_batch_requests_path() -> Path:
    """The folder batch scoring requests are dropped into."""
    return working_area() / "data" / "batch_requests"


def default_prediction_log_path() -> Path:
    """The prediction log's folder on the embedded defaults: parquet files by event day."""
    return working_area() / "predictions"


def default_driver_stats_path() -> Path:
    return working_area() / "data" / "driver_stats.parquet"


def default_feast_dir() -> Path:
    return working_area() / "feast"


def default_mlflow_dir() -> Path:
    return working_area() / "mlflow"


def default_io_dir() -> Path:
    return working_area() / "assets"


def staged_output(run_id: str, name: str) -> Path:
    """A local file in which a step writes an output too large to hold, for its IO manager to
    move into place: `<working area>/staging/<run id>/<name>`."""
    folder = working_area() / "staging" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
