"""The plain-script baseline that `bench.run` compares `training_job` against on the default sample.

    TRAINING_ASSETS_HOME=<area> python -m bench.plain_script --result out.json --mlflow-dir DIR

It does the work of `training_job` in one process, in the job's order and with the job's library
calls, without Dagster: apply the Feast repo, read the orders and join them point-in-time with
the driver features, run the data gates, split, fit the model and log it to MLflow, evaluate it,
run the model gates, and register it as the champion if no blocking gate failed. Intermediate
outputs are written as the job's IO managers write them (parquet for tables, JSON for records),
into a temporary directory in the working area that is removed at the end. MLflow tracks to
`DIR/mlflow.db` with artifacts in `DIR/artifacts`.

The JSON written to --result holds the import and work seconds, the seconds of each stage, the
verdict of each gate, the evaluation and the registered version (null when a gate blocked it).
The exit code is 0 when the run completed, whether or not a gate blocked registration.

Nothing here imports Dagster. What lives in Dagster-importing modules (resources, assets,
checks, config) is restated below; the defaults must stay in step with training_assets/config.py.
"""

import argparse
import contextlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

from training_assets import paths

STARTED = time.perf_counter()

# Imported in main(), so that their cost is measured as imports_s.
HEAVY_MODULES = (
    "numpy",
    "pandas",
    "pyarrow",
    "pyarrow.parquet",
    "yaml",
    "sklearn",
    "feast",
    "feast.repo_operations",
    "training_assets.asof_offline_store",
    "mlflow",
    "mlflow.sklearn",
    "mlflow.models",
    "mlflow.data.meta_dataset",
    "mlflow.data.dataset_source_registry",
    "pandera.pandas",
    "training_assets.challenger",
    "training_assets.drift",
    "training_assets.orders",
    "training_assets.training",
    "training_assets.validation",
    "training_assets.watch",
)

# SplitConfig, ModelConfig and GateThresholds defaults (training_assets/config.py).
SPLIT = {"test_size": 0.2, "random_seed": 17, "strategy": "random"}
MODEL = {"alpha": 0.5, "l1_ratio": 0.1, "random_state": 17, "search": False}
GATES = {
    "max_feature_null_rate": 0.05,
    "min_rows": 1000,
    "rmse_ceiling": 0.48,
    "mae_ceiling": 0.48,
    "min_improvement_over_baseline": 0.03,
    "max_duplicate_rate": 0.01,
    "drift_warn_psi": 0.1,
    "drift_block_psi": 0.25,
    "label_shift_warn": 0.05,
    "label_shift_block": 0.15,
    "regression_tolerance": 0.005,
    "slice_column": "driver_id",
    "slice_min_rows": 15,
    "slice_rmse_ceiling": 0.6,
    "slice_tolerance": 0.05,
    "latency_batch_rows": 1000,
    "latency_repeats": 30,
    "latency_budget_ms": 100.0,
}

# The MlflowTracking and ModelRegistry defaults (training_assets/resources/mlflow.py).
EXPERIMENT = "driver-trip-completion"
MODEL_NAME = "sklearn-elastic-net-reg"
ALIAS = "champion"
RUN_NAME = "plain_script"

# As in training_assets/assets/model.py.
REFERENCE_PROFILE_ARTIFACT = "reference_profile.json"
RUN_CONFIG_ARTIFACT = "run_config.json"
LINEAGE_PREFIX = "training_assets."
SERVING_PACKAGES = ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "skops")
SERIES_KEY = b"training_assets.series_name"

# Gates that only warn when they fail; every other gate blocks registration.
WARN_ONLY = {"training_data:duplicate_rows_within_rate"}


class Stages:
    """Seconds spent in each named stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - started


# --- storage, as the job's IO managers store outputs ----------------------------------------


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        write(tmp)
        tmp.rename(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(path: Path, obj) -> None:
    """A frame, series or Arrow table as parquet; a series keeps its name in the metadata."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(obj, pd.Series):
        table = pa.Table.from_pandas(obj.to_frame(), preserve_index=False)
        name = "" if obj.name is None else str(obj.name)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), SERIES_KEY: name.encode()}
        )
    elif isinstance(obj, pd.DataFrame):
        table = pa.Table.from_pandas(obj, preserve_index=False)
    else:
        table = obj

    def write(target: Path) -> None:
        with target.open("wb") as handle:
            pq.write_table(table, handle)

    write_atomically(path, write)


def write_json(path: Path, record: dict) -> None:
    text = json.dumps(record, indent=2, sort_keys=True)
    write_atomically(path, lambda target: target.write_text(text))


# --- Feast, as FeastResource builds and applies the store -----------------------------------


def feature_store(coerce_tz_aware: bool | None = None):
    """A FeatureStore on the repo's yaml with its registry and online store in the working area."""
    import yaml
    from feast import FeatureStore, RepoConfig

    repo = paths.FEATURE_REPO
    raw = yaml.safe_load(os.path.expandvars((repo / "feature_store.yaml").read_text()))
    feast_dir = paths.default_feast_dir()
    feast_dir.mkdir(parents=True, exist_ok=True)
    raw["registry"] = str(feast_dir / "registry.db")
    raw["online_store"] = {
        **raw.get("online_store", {}),
        "path": str(feast_dir / "online_store.db"),
    }
    if coerce_tz_aware is not None:
        raw["coerce_tz_aware"] = coerce_tz_aware
    config = RepoConfig(**raw)
    config.repo_path = repo
    return FeatureStore(config=config)


@contextlib.contextmanager
def importable_repo(repo: Path) -> Iterator[None]:
    """The repo as cwd and on sys.path while Feast imports it, as `feast apply` has it."""
    before_modules = set(sys.modules)
    before_cwd = os.getcwd()
    sys.path.insert(0, str(repo))
    os.chdir(repo)
    try:
        yield
    finally:
        os.chdir(before_cwd)
        sys.path.remove(str(repo))
        repo_files = {str(path) for path in repo.glob("**/*.py")}
        for name in set(sys.modules) - before_modules:
            if getattr(sys.modules[name], "__file__", None) in repo_files:
                del sys.modules[name]


def apply_feature_repo() -> dict:
    """Apply the repo's definitions as `feast apply` does, reading the working area's stats."""
    from feast.repo_operations import extract_objects_for_apply_delete, parse_repo

    store = feature_store()
    with importable_repo(paths.FEATURE_REPO):
        contents = parse_repo(paths.FEATURE_REPO)
    stats_path = paths.default_driver_stats_path()
    for view in contents.feature_views:
        if view.batch_source is not None and hasattr(view.batch_source, "file_options"):
            view.batch_source.file_options.uri = str(stats_path)
    to_apply, to_delete, _, _ = extract_objects_for_apply_delete(
        store.project, store.registry, contents
    )
    store.apply(to_apply, objects_to_delete=to_delete, partial=False)
    return {
        "project": store.project,
        "entities": sorted(entity.name for entity in contents.entities),
        "feature_views": sorted(view.name for view in contents.feature_views),
        "feature_services": sorted(service.name for service in contents.feature_services),
        "driver_stats_path": str(stats_path),
        "registry": str(store.config.registry.path),
    }


def historical_features(entity_df, feature_service: str):
    """Point-in-time join of `entity_df` through the feature service, as an Arrow table."""
    import pandas as pd

    # Feast would copy the entity frame to make its times UTC; they are UTC already.
    already_utc = all(
        isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"
        for dtype in entity_df.dtypes
        if pd.api.types.is_datetime64_any_dtype(dtype)
    )
    store = feature_store(coerce_tz_aware=False if already_utc else None)
    service = store.get_feature_service(feature_service)
    return store.get_historical_features(entity_df=entity_df, features=service).to_arrow()


# --- gates ----------------------------------------------------------------------------------


def data_gates(frame, order_count: int) -> dict:
    """The outcomes of training_data_gates (training_assets/checks/data_gates.py)."""
    from training_assets import validation

    outcomes = {
        "no_unexpected_columns": validation.no_unexpected_columns(frame),
        "expected_columns_with_dtypes": validation.expected_columns_with_dtypes(frame),
        "labels_are_binary": validation.labels_are_binary(frame),
        "feature_nulls_within_rate": validation.feature_nulls_within_rate(
            frame, GATES["max_feature_null_rate"]
        ),
        "row_count_at_least_minimum": validation.row_count_at_least(frame, GATES["min_rows"]),
        "row_count_matches_orders": validation.row_count_matches_orders(frame, order_count),
        "feature_values_in_range": validation.feature_values_in_range(frame),
        "features_not_from_the_future": validation.features_not_from_the_future(frame),
        "duplicate_rows_within_rate": validation.duplicate_rows_within_rate(
            frame, GATES["max_duplicate_rate"]
        ),
    }
    return {f"training_data:{name}": outcome for name, outcome in outcomes.items()}


def drift_gate(frame, champion) -> tuple[bool, bool]:
    """drift_within_limits (training_assets/checks/champion_gates.py): (passed, blocks)."""
    import mlflow

    from training_assets import drift, validation
    from training_assets.schema import FEATURES, LABEL

    if champion is None:
        return True, False
    # Stores report a missing or unreadable artifact with different exception types.
    try:
        reference = mlflow.artifacts.load_dict(
            f"runs:/{champion.run_id}/{REFERENCE_PROFILE_ARTIFACT}"
        )
    except Exception:
        return False, True
    psi = drift.population_stability(reference["features"], frame[list(FEATURES)])
    label_shift = float(frame[LABEL].mean()) - reference["label_rate"]
    outcome, level = validation.drift_against_reference(
        psi,
        label_shift,
        GATES["drift_warn_psi"],
        GATES["drift_block_psi"],
        GATES["label_shift_warn"],
        GATES["label_shift_block"],
    )
    return outcome.passed, level == "block"


def model_gates(record: dict, evaluation: dict, split, champion) -> dict:
    """The error ceiling and baseline gates, then the challenger's gates against the champion."""
    from training_assets import challenger, validation

    outcomes = {
        "rmse_within_ceiling": validation.metric_within_ceiling(
            evaluation, "rmse", GATES["rmse_ceiling"]
        ),
        "mae_within_ceiling": validation.metric_within_ceiling(
            evaluation, "mae", GATES["mae_ceiling"]
        ),
        "beats_mean_baseline": validation.beats_mean_baseline(
            evaluation, GATES["min_improvement_over_baseline"]
        ),
    }
    column = GATES["slice_column"]
    slice_frame = split.test_keys if column in split.test_keys.columns else split.test_x
    champion_uri = None if champion is None else f"models:/{champion.name}/{champion.version}"
    judged, _ = challenger.judge(
        record["model_uri"],
        champion_uri,
        split.test_x,
        split.test_y,
        slice_frame[column],
        challenger.Limits(
            regression_tolerance=GATES["regression_tolerance"],
            slice_min_rows=GATES["slice_min_rows"],
            slice_rmse_ceiling=GATES["slice_rmse_ceiling"],
            slice_tolerance=GATES["slice_tolerance"],
            latency_batch_rows=GATES["latency_batch_rows"],
            latency_repeats=GATES["latency_repeats"],
            latency_budget_ms=GATES["latency_budget_ms"],
        ),
    )
    outcomes.update(judged)
    return {f"evaluation:{name}": outcome for name, outcome in outcomes.items()}


def blocking_failures(gates: dict[str, bool], blocks: set[str]) -> list[str]:
    return sorted(name for name, passed in gates.items() if name in blocks and not passed)


# --- MLflow, as the model, evaluation and registry assets log ------------------------------


def configure_mlflow(mlflow_dir: Path):
    """Point mlflow at the sqlite store in `mlflow_dir`; returns a client on it."""
    import mlflow

    mlflow_dir.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{mlflow_dir / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient()


def champion_version(client):
    """The version the champion alias points at, or None when there is none yet."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(MODEL_NAME, ALIAS)
    except MlflowException:
        return None


def start_run(mlflow_dir: Path) -> str:
    """Start the run in the experiment, which keeps its artifacts beside the sqlite store."""
    import mlflow

    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(
            EXPERIMENT, artifact_location=(mlflow_dir / "artifacts").resolve().as_uri()
        )
    mlflow.set_experiment(EXPERIMENT)
    return mlflow.start_run(run_name=RUN_NAME).info.run_id


def git_commit() -> str:
    """The project's checked-out commit, with "-dirty" when the tree has changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=paths.PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def training_dataset(train_x, lineage: dict[str, str]):
    """The training data as an MLflow dataset, from the digest already computed."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.models import infer_signature

    return MetaDataset(
        source=resolve_dataset_source(lineage[f"{LINEAGE_PREFIX}orders_path"]),
        name="training_data",
        digest=lineage[f"{LINEAGE_PREFIX}data_digest"][:32],
        schema=infer_signature(train_x.head(100)).inputs,
    )


def train_and_log(split, lineage: dict[str, str], run_id: str) -> dict:
    """Fit the model and log it to the active run with its params, lineage and profile."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from training_assets import drift, training

    train_x, train_y = split.train_x, split.train_y
    model = training.fit_elastic_net(
        train_x, train_y, MODEL["alpha"], MODEL["l1_ratio"], MODEL["random_state"]
    )
    mlflow.log_params(
        {
            **MODEL,
            "train_rows": len(train_x),
            "features": ",".join(train_x.columns),
        }
    )
    mlflow.set_tags(lineage)
    mlflow.log_dict(
        {"ops": {"splits": {"config": SPLIT}, "trained_model": {"config": MODEL}}},
        RUN_CONFIG_ARTIFACT,
    )
    mlflow.log_input(training_dataset(train_x, lineage), context="training")
    mlflow.log_dict(
        {
            "features": drift.feature_profile(
                train_x.sample(n=min(len(train_x), 1_000_000), random_state=0),
                list(train_x.columns),
            ),
            "label_rate": float(train_y.mean()),
        },
        REFERENCE_PROFILE_ARTIFACT,
    )
    example = train_x.head(5)
    model_info = mlflow.sklearn.log_model(
        sk_model=model,
        name="model",
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        skops_trusted_types=list(training.SKOPS_TRUSTED_TYPES),
        # Pinned here, since inferring them reloads the model in a subprocess for seconds.
        pip_requirements=[f"{package}=={version(package)}" for package in SERVING_PACKAGES],
    )
    return {
        "run_id": run_id,
        "model_uri": model_info.model_uri,
        "model_id": model_info.model_id,
        "experiment_id": mlflow.active_run().info.experiment_id,
        "coefficients": training.coefficients(model),
    }


def evaluate(client, record: dict, split) -> dict:
    """Score the logged model, as loaded back from MLflow, and log the scores into its run."""
    import mlflow.sklearn
    from mlflow.entities import Metric

    from training_assets import training

    model = mlflow.sklearn.load_model(record["model_uri"])
    metrics = training.regression_metrics(model, split.test_x, split.test_y, split.train_y)
    now_ms = int(time.time() * 1000)
    client.log_batch(
        record["run_id"],
        metrics=[Metric(name, float(value), now_ms, 0) for name, value in metrics.items()],
    )
    return {**metrics, "run_id": record["run_id"], "model_uri": record["model_uri"]}


def register(client, record: dict, evaluation: dict) -> dict:
    """Register the model with its run's lineage tags and move the champion alias to it."""
    import mlflow

    existing = [
        found
        for found in client.search_model_versions(f"name='{MODEL_NAME}'")
        if found.source == record["model_uri"] or found.run_id == record["run_id"]
    ]
    if existing:
        registered = existing[0]
    else:
        tags = client.get_run(record["run_id"]).data.tags
        lineage = {key: value for key, value in tags.items() if not key.startswith("mlflow.")}
        registered = mlflow.register_model(record["model_uri"], MODEL_NAME, tags=lineage)
    client.set_registered_model_alias(MODEL_NAME, ALIAS, registered.version)
    return {
        "name": MODEL_NAME,
        "version": int(registered.version),
        "alias": ALIAS,
        "model_uri": record["model_uri"],
        "run_id": record["run_id"],
        "rmse": evaluation["rmse"],
    }


# --- the run --------------------------------------------------------------------------------


def run(io_dir: Path, mlflow_dir: Path, stages: Stages) -> dict:
    """The job's work, stage by stage; stops after a blocking gate fails, as the job does."""
    import mlflow
    from mlflow.entities import RunStatus

    from training_assets import orders, training, watch
    from training_assets.schema import TRAINING_FEATURE_SERVICE

    with stages.stage("apply"):
        applied = apply_feature_repo()
        write_json(io_dir / "feature_store.json", applied)
    if TRAINING_FEATURE_SERVICE not in applied["feature_services"]:
        raise ValueError(f"feature service {TRAINING_FEATURE_SERVICE!r} is not in the repo")

    with stages.stage("read_orders"):
        location = paths.default_orders_path()
        # Digests before reading, as the job takes them, for the lineage tags.
        orders_version = orders.content_digest(orders.order_files(location))
        stats_version = orders.content_digest([paths.default_driver_stats_path()])
        order_frame = orders.read_orders(location)

    with stages.stage("join"):
        joined = historical_features(
            training.with_order_position(order_frame), TRAINING_FEATURE_SERVICE
        )
        table = training.as_training_table(joined)
        write_parquet(io_dir / "training_data.parquet", table)
        result = {
            "rows": table.num_rows,
            "rows_without_features": training.rows_without_features(table),
            "positive_rate": training.positive_rate(table),
        }

    with stages.stage("data_gates"):
        frame = table.to_pandas(split_blocks=True)
        del table, joined, order_frame
        outcomes = data_gates(frame, orders.count_orders(location))
        gates = {name: outcome.passed for name, outcome in outcomes.items()}
        blocks = set(gates) - WARN_ONLY
        client = configure_mlflow(mlflow_dir)
        passed, drift_blocks = drift_gate(frame, champion_version(client))
        gates["training_data:drift_within_limits"] = passed
        if drift_blocks:
            blocks.add("training_data:drift_within_limits")
    result["gates"] = gates
    result["blocked_by"] = blocking_failures(gates, blocks)
    if result["blocked_by"]:
        return result

    with stages.stage("split"):
        split = training.split_frame(
            frame, SPLIT["test_size"], SPLIT["random_seed"], SPLIT["strategy"]
        )
        for name, value in split._asdict().items():
            write_parquet(io_dir / f"{name}.parquet", value)

    run_id = None
    try:
        with stages.stage("train_and_log"):
            run_id = start_run(mlflow_dir)
            lineage = {
                f"{LINEAGE_PREFIX}git_commit": git_commit(),
                f"{LINEAGE_PREFIX}data_digest": watch.combined_digest(
                    orders_version, stats_version
                ),
                f"{LINEAGE_PREFIX}orders_version": orders_version,
                f"{LINEAGE_PREFIX}driver_stats_version": stats_version,
                f"{LINEAGE_PREFIX}orders_path": str(location),
            }
            record = train_and_log(split, lineage, run_id)
            write_json(io_dir / "trained_model.json", record)

        with stages.stage("evaluate"):
            evaluation = evaluate(client, record, split)
            write_json(io_dir / "evaluation.json", evaluation)

        with stages.stage("model_gates"):
            outcomes = model_gates(record, evaluation, split, champion_version(client))
            gates.update({name: outcome.passed for name, outcome in outcomes.items()})
            blocks.update(outcomes)
        result["blocked_by"] = blocking_failures(gates, blocks)

        registered = None
        if not result["blocked_by"]:
            with stages.stage("register"):
                registered = register(client, record, evaluation)
                write_json(io_dir / "registered_model_version.json", registered)
    except BaseException:
        if run_id is not None:
            mlflow.end_run(status=RunStatus.to_string(RunStatus.FAILED))
        raise
    # Like the job, a run whose gates stopped registration ends FAILED.
    status = RunStatus.FAILED if result["blocked_by"] else RunStatus.FINISHED
    mlflow.end_run(status=RunStatus.to_string(status))

    metric_names = ("rmse", "mae", "r2", "baseline_rmse", "test_rows")
    result["evaluation"] = {name: evaluation[name] for name in metric_names}
    result["run_id"] = run_id
    result["model_uri"] = record["model_uri"]
    result["coefficients"] = record["coefficients"]
    result["registered_version"] = None if registered is None else registered["version"]
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", type=Path, required=True, help="JSON file for the figures")
    parser.add_argument(
        "--mlflow-dir",
        type=Path,
        required=True,
        help="directory of the MLflow sqlite store and its artifacts",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for name in HEAVY_MODULES:
        importlib.import_module(name)
    imports_s = time.perf_counter() - STARTED

    work_started = time.perf_counter()
    stages = Stages()
    area = paths.working_area()
    with tempfile.TemporaryDirectory(dir=area, prefix="plain_script_") as io_dir:
        result = run(Path(io_dir), args.mlflow_dir.resolve(), stages)
        work_s = time.perf_counter() - work_started

    dagster_imported = any(name.split(".")[0].startswith("dagster") for name in sys.modules)
    if dagster_imported:
        raise RuntimeError("Dagster was imported; the baseline must run without it")
    result.setdefault("registered_version", None)
    result.update(
        {
            "imports_s": imports_s,
            "work_s": work_s,
            "stages": stages.seconds,
            "working_area": str(area),
            "mlflow_dir": str(args.mlflow_dir.resolve()),
            "dagster_imported": dagster_imported,
        }
    )
    result["process_s_to_result"] = time.perf_counter() - STARTED
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
