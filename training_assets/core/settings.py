"""Every environment variable the pipeline reads, read here and only here.

Each setting is a function that reads the environment when it is called, never at import, so
a test or a notebook that sets a variable after importing the package is obeyed, and importing
the package reads nothing. Dagster resources whose fields come from the environment name the
variable with Dagster's `EnvVar` (defs/resources/__init__.py), so the launchpad shows it.

The deployment's choices (where state lives, which executor, whether a switched gate blocks)
are made in the code location's environment and never in run config: they are code or
definitions, not a run's parameters.
"""

import os
from collections.abc import Mapping
from pathlib import Path

# Where generated state lives (the working area): `var/` in the project when unset.
WORKING_AREA_ENV = "TRAINING_ASSETS_HOME"
# The Feast repo: code (feast apply executes its modules), so never run config.
FEATURE_REPO_ENV = "TRAINING_ASSETS_FEATURE_REPO"
# Feast's own variable for the repo's settings file, which a production profile sets.
FEATURE_STORE_YAML_ENV = "FEAST_FS_YAML_FILE_PATH"
# Which executor runs a run's steps: local, celery or k8s.
EXECUTOR_ENV = "TRAINING_ASSETS_EXECUTOR"
# The key that signs gated model versions.
SIGNING_KEY_ENV = "TRAINING_ASSETS_SIGNING_KEY"
# The named point at which a test makes the process kill itself (core/faults.py).
KILL_AT_ENV = "TRAINING_ASSETS_KILL_AT"
# The UIs' base URLs, for the links between Dagster and MLflow.
DAGSTER_UI_ENV = "TRAINING_ASSETS_DAGSTER_UI_URL"
MLFLOW_UI_ENV = "TRAINING_ASSETS_MLFLOW_UI_URL"
# MLflow's own variables for its stores and their basic-auth credentials.
MLFLOW_TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
MLFLOW_REGISTRY_URI_ENV = "MLFLOW_REGISTRY_URI"
MLFLOW_USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
MLFLOW_PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
# Where the online server logs its predictions: a PostgreSQL URL (the production profile);
# unset, parquet files under <working area>/predictions/.
PREDICTION_LOG_URL_ENV = "TRAINING_ASSETS_PREDICTION_LOG_URL"
# Train on the newest this many days of orders only; unset, on every order.
TRAINING_WINDOW_ENV = "TRAINING_ASSETS_TRAINING_WINDOW_DAYS"
# The promotion policy of every training run, sensor-started ones included: automatic
# (unset), manual or shadow.
PROMOTION_ENV = "TRAINING_ASSETS_PROMOTION"
# Whether live_rollback_sensor rolls a champion back by itself on a live regression.
ROLLBACK_ENV = "TRAINING_ASSETS_ROLLBACK_ON_LIVE_REGRESSION"
# A YAML file of gate thresholds (GateLimits' fields): the defaults of every run and sensor.
GATES_FILE_ENV = "TRAINING_ASSETS_GATES_FILE"
# Whether each switched gate blocks, by GateLimits field.
SWITCH_ENV = {
    "drift_blocks": "TRAINING_ASSETS_DRIFT_BLOCKS",
    "late_features_block": "TRAINING_ASSETS_LATE_FEATURES_BLOCK",
}
# Each sensor's tick interval in seconds, with its default.
SENSOR_INTERVAL_ENV = {
    "new_training_data_sensor": ("NEW_DATA_SENSOR_INTERVAL_SECONDS", 30),
    "dead_run_sensor": ("DEAD_RUN_SENSOR_INTERVAL_SECONDS", 60),
    "drift_retrain_sensor": ("DRIFT_SENSOR_INTERVAL_SECONDS", 3600),
    "batch_scoring_sensor": ("BATCH_SENSOR_INTERVAL_SECONDS", 30),
    "outcomes_sensor": ("OUTCOMES_SENSOR_INTERVAL_SECONDS", 60),
    "live_retrain_sensor": ("LIVE_RETRAIN_SENSOR_INTERVAL_SECONDS", 60),
    "shadow_promotion_sensor": ("SHADOW_PROMOTION_SENSOR_INTERVAL_SECONDS", 300),
    "live_rollback_sensor": ("LIVE_ROLLBACK_SENSOR_INTERVAL_SECONDS", 300),
}
_ON, _OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def value(variable: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    return os.environ.get(variable) or None


def put(variable: str, given: str | None) -> None:
    """Set `variable` to `given`, or unset it when `given` is None: for a library that reads
    a setting from the environment alone, and to put the variable back after."""
    if given is None:
        os.environ.pop(variable, None)
    else:
        os.environ[variable] = given


def working_area() -> Path | None:
    """`$TRAINING_ASSETS_HOME`, resolved; None when unset."""
    configured = value(WORKING_AREA_ENV)
    return Path(configured).resolve() if configured else None


def feature_repo() -> Path | None:
    """`$TRAINING_ASSETS_FEATURE_REPO`, resolved; None when unset."""
    configured = value(FEATURE_REPO_ENV)
    return Path(configured).resolve() if configured else None


def feature_store_yaml() -> Path | None:
    """`$FEAST_FS_YAML_FILE_PATH`; None when unset."""
    configured = value(FEATURE_STORE_YAML_ENV)
    return Path(configured) if configured else None


def expand(text: str) -> str:
    """`text` with its `$VAR` and `${VAR}` replaced from the environment, as Feast does for
    feature_store.yaml; an unset variable stays as it is written."""
    return os.path.expandvars(text)


def executor() -> str | None:
    """`$TRAINING_ASSETS_EXECUTOR`; None when unset."""
    return value(EXECUTOR_ENV)


def signing_key() -> str:
    """`$TRAINING_ASSETS_SIGNING_KEY` without surrounding blanks; empty when unset."""
    return os.environ.get(SIGNING_KEY_ENV, "").strip()


def kill_at() -> str | None:
    """`$TRAINING_ASSETS_KILL_AT`: the point at which a test wants the process dead."""
    return os.environ.get(KILL_AT_ENV)


def dagster_ui_url() -> str | None:
    return value(DAGSTER_UI_ENV)


def mlflow_ui_url() -> str | None:
    return value(MLFLOW_UI_ENV)


def mlflow_tracking_uri() -> str | None:
    return value(MLFLOW_TRACKING_URI_ENV)


def mlflow_registry_uri() -> str | None:
    return value(MLFLOW_REGISTRY_URI_ENV)


def mlflow_credentials() -> tuple[str | None, str | None]:
    """MLflow's basic-auth user and password from its own variables; None for each unset."""
    return value(MLFLOW_USERNAME_ENV), value(MLFLOW_PASSWORD_ENV)


def prediction_log_url() -> str | None:
    """`$TRAINING_ASSETS_PREDICTION_LOG_URL`; None when unset."""
    return value(PREDICTION_LOG_URL_ENV)


def set_mlflow_http_budget(
    timeout_s: int, max_retries: int, user: str | None = None, password: str | None = None
) -> None:
    """Write MLflow's HTTP timeout and retry budget, and a URI's user and password unless the
    environment already names them, into this process's environment.

    This process's environment is the only place MLflow 3.17 takes them from: its REST stores
    read the user, password and token in `get_default_host_creds`, and the request timeout
    and retries in `http_request`, from environment variables at each request, and
    `MlflowClient` takes nothing but URIs (upstream feature requests mlflow/mlflow#8584 and
    #12520 ask for a way to give them in code). The one alternative, a request auth provider
    plugin, is chosen by $MLFLOW_TRACKING_AUTH and registered by a package entry point, so it
    is process-wide too. This is the one place the package writes them; only a process that
    talks to an HTTP store calls it (the server, and MlflowStore for a tracking server), and
    the values reach no tag, log line or metadata.
    """
    environment = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout_s),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(max_retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    }
    set_user, set_password = mlflow_credentials()
    if user and not set_user:
        environment[MLFLOW_USERNAME_ENV] = user
    if password and not set_password:
        environment[MLFLOW_PASSWORD_ENV] = password
    os.environ.update(environment)


def switch(variable: str, environ: Mapping[str, str] | None = None) -> bool | None:
    """An on/off variable: None when unset or empty.

    Raises:
        ValueError: naming the variable, the value found and the values accepted.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(variable, "").strip().lower()
    if not raw:
        return None
    if raw not in _ON + _OFF:
        raise ValueError(
            f"{variable}={environ[variable]!r}: expected 1/true/yes/on or 0/false/no/off"
        )
    return raw in _ON


def blocking_switches(environ: Mapping[str, str] | None = None) -> dict[str, bool]:
    """Each switch of SWITCH_ENV as the environment (or `environ`) sets it; unset is off.

    Raises:
        ValueError: naming the variable, the value found and the values accepted.
    """
    return {field: bool(switch(variable, environ)) for field, variable in SWITCH_ENV.items()}


def sensor_interval(sensor_name: str) -> int:
    """The sensor's tick interval in seconds: its variable in SENSOR_INTERVAL_ENV, else its
    default.

    Raises:
        ValueError: naming the variable and the value when it is not a positive whole number.
    """
    variable, default = SENSOR_INTERVAL_ENV[sensor_name]
    raw = os.environ.get(variable, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{variable} must be a positive whole number of seconds, found {raw!r}")
    return int(raw)


def default_sensor_interval(sensor_name: str) -> int:
    """The sensor's tick interval in seconds when its variable is unset."""
    return SENSOR_INTERVAL_ENV[sensor_name][1]
