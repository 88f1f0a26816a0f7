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

Nothing here imports Dagster. Feast, storage and lineage come from the package's plain modules
(`feast_repo`, `storage`, `lineage`), as the resources and assets use them. What only the
Dagster-importing modules hold (the checks' calls, the assets' MLflow logging, the config
defaults) is restated below; a test keeps the defaults in step with training_assets/config.py.
"""

import argparse
import contextlib
import importlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from training_assets.core import paths

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
    "training_assets.core.features.asof_offline_store",
    "mlflow",
    "mlflow.sklearn",
    "mlflow.models",
    "mlflow.data.meta_dataset",
    "mlflow.data.dataset_source_registry",
    "pandera.pandas",
    "training_assets.challenger",
    "training_assets.core.ml.drift",
    "training_assets.core.features.feast_repo",
    "training_assets.core.tracking.lineage",
    "training_assets.core.data.orders",
    "training_assets.core.data.storage",
    "training_assets.training",
    "training_assets.validation",
    "training_assets.core.data.fingerprints",
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


# --- gates ----------------------------------------------------------------------------------


def data_gates(frame, order_count: int) -> dict:
    """The outcomes of training_data_gates (training_assets/checks/data_gates.py)."""
    from training_assets.core.gates.data_gates import (
        duplicate_rows_within_rate,
        expected_columns_with_dtypes,
        feature_nulls_within_rate,
        feature_values_in_range,
        features_not_from_the_future,
        labels_are_binary,
        no_unexpected_columns,
        row_count_at_least,
        row_count_matches_orders,
    )

    outcomes = {
        "no_unexpected_columns": no_unexpected_columns(frame),
        "expected_columns_with_dtypes": expected_columns_with_dtypes(frame),
        "labels_are_binary": labels_are_binary(frame),
        "feature_nulls_within_rate": feature_nulls_within_rate(
            frame, GATES["max_feature_null_rate"]
        ),
        "row_count_at_least_minimum": row_count_at_least(frame, GATES["min_rows"]),
        "row_count_matches_orders": row_count_matches_orders(frame, order_count),
        "feature_values_in_range": feature_values_in_range(frame),
        "features_not_from_the_future": features_not_from_the_future(frame),
        "duplicate_rows_within_rate": duplicate_rows_within_rate(
            frame, GATES["max_duplicate_rate"]
        ),
    }
    return {f"training_data:{name}": outcome for name, outcome in outcomes.items()}


def drift_gate(frame, champion) -> tuple[bool, bool]:
    """drift_within_limits (training_assets/checks/champion_gates.py): (passed, blocks)."""
    import mlflow

    from training_assets.core.gates.drift_gate import drift_against_reference
    from training_assets.core.ml import drift
    from training_assets.core.schema import (
        FEATURES,
        LABEL,
    )
    from training_assets.core.tracking import lineage

    if champion is None:
        return True, False
    # Stores report a missing or unreadable artifact with different exception types.
    try:
        reference = mlflow.artifacts.load_dict(
            f"runs:/{champion.run_id}/{lineage.REFERENCE_PROFILE_ARTIFACT}"
        )
    except Exception:
        return False, True
    psi = drift.population_stability(reference["features"], frame[list(FEATURES)])
    label_shift = float(frame[LABEL].mean()) - reference["label_rate"]
    outcome, level = drift_against_reference(
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
    from training_assets.core.gates.champion_gates import Limits, judge
    from training_assets.core.gates.model_gates import beats_mean_baseline, metric_within_ceiling

    outcomes = {
        "rmse_within_ceiling": metric_within_ceiling(evaluation, "rmse", GATES["rmse_ceiling"]),
        "mae_within_ceiling": metric_within_ceiling(evaluation, "mae", GATES["mae_ceiling"]),
        "beats_mean_baseline": beats_mean_baseline(
            evaluation, GATES["min_improvement_over_baseline"]
        ),
    }
    column = GATES["slice_column"]
    slice_frame = split.test_keys if column in split.test_keys.columns else split.test_x
    champion_uri = None if champion is None else f"models:/{champion.name}/{champion.version}"
    judged, _ = judge(
        record["model_uri"],
        champion_uri,
        split.test_x,
        split.test_y,
        slice_frame[column],
        Limits(
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


def train_and_log(split, lineage: dict[str, str], run_id: str) -> dict:
    """Fit the model and log it to the active run with its params, lineage and profile."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from training_assets.core.ml import drift
    from training_assets.core.ml.elastic_net import (
        SKOPS_TRUSTED_TYPES,
        coefficients,
        fit_elastic_net,
    )
    from training_assets.core.tracking import lineage as lineage_

    train_x, train_y = split.train_x, split.train_y
    model = fit_elastic_net(
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
        lineage_.RUN_CONFIG_ARTIFACT,
    )
    mlflow.log_input(lineage_.training_dataset(train_x, lineage), context="training")
    mlflow.log_dict(
        {
            "features": drift.feature_profile(
                train_x.sample(n=min(len(train_x), 1_000_000), random_state=0),
                list(train_x.columns),
            ),
            "label_rate": float(train_y.mean()),
        },
        lineage_.REFERENCE_PROFILE_ARTIFACT,
    )
    example = train_x.head(5)
    model_info = mlflow.sklearn.log_model(
        sk_model=model,
        name="model",
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
        pip_requirements=lineage_.serving_requirements(),
    )
    return {
        "run_id": run_id,
        "model_uri": model_info.model_uri,
        "model_id": model_info.model_id,
        "experiment_id": mlflow.active_run().info.experiment_id,
        "coefficients": coefficients(model),
    }


def evaluate(client, record: dict, split) -> dict:
    """Score the logged model, as loaded back from MLflow, and log the scores into its run."""
    import mlflow.sklearn
    from mlflow.entities import Metric

    from training_assets.core.ml.metrics import regression_metrics

    model = mlflow.sklearn.load_model(record["model_uri"])
    metrics = regression_metrics(model, split.test_x, split.test_y, split.train_y)
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

    from training_assets.core.data import fingerprints, orders, storage
    from training_assets.core.features import feast_repo
    from training_assets.core.ml.split import split_frame
    from training_assets.core.ml.table import (
        as_training_table,
        positive_rate,
        rows_without_features,
        with_order_position,
    )
    from training_assets.core.schema import TRAINING_FEATURE_SERVICE
    from training_assets.core.tracking import lineage

    def feature_store(coerce_tz_aware: bool | None = None):
        """The store as FeastResource opens it on its defaults."""
        feast_dir = paths.default_feast_dir()
        return feast_repo.feature_store(
            paths.FEATURE_REPO,
            registry=feast_dir / "registry.db",
            online_store=feast_dir / "online_store.db",
            coerce_tz_aware=coerce_tz_aware,
        )

    with stages.stage("apply"):
        applied = feast_repo.apply_repo(
            feature_store(), paths.FEATURE_REPO, paths.default_driver_stats_path()
        )
        storage.write_json(io_dir / "feature_store.json", applied)
    if TRAINING_FEATURE_SERVICE not in applied["feature_services"]:
        raise ValueError(f"feature service {TRAINING_FEATURE_SERVICE!r} is not in the repo")

    with stages.stage("read_orders"):
        location = paths.default_orders_path()
        # Digests before reading, as the job takes them, for the lineage tags.
        orders_version = orders.content_digest(orders.order_files(location))
        stats_version = orders.content_digest([paths.default_driver_stats_path()])
        order_frame = orders.read_orders(location)

    with stages.stage("join"):
        entity_df = with_order_position(order_frame)
        already_utc = feast_repo.times_are_utc(entity_df)
        store = feature_store(coerce_tz_aware=False if already_utc else None)
        joined = feast_repo.historical_table(store, entity_df, TRAINING_FEATURE_SERVICE)
        table = as_training_table(joined)
        storage.write_parquet(io_dir / "training_data.parquet", table)
        result = {
            "rows": table.num_rows,
            "rows_without_features": rows_without_features(table),
            "positive_rate": positive_rate(table),
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
        split = split_frame(frame, SPLIT["test_size"], SPLIT["random_seed"], SPLIT["strategy"])
        for name, value in split._asdict().items():
            storage.write_parquet(io_dir / f"{name}.parquet", value)

    run_id = None
    try:
        with stages.stage("train_and_log"):
            run_id = start_run(mlflow_dir)
            prefix = lineage.LINEAGE_PREFIX
            tags = {
                f"{prefix}git_commit": lineage.git_commit(),
                f"{prefix}data_digest": fingerprints.combined_digest(orders_version, stats_version),
                f"{prefix}orders_version": orders_version,
                f"{prefix}driver_stats_version": stats_version,
                f"{prefix}orders_path": str(location),
            }
            record = train_and_log(split, tags, run_id)
            storage.write_json(io_dir / "trained_model.json", record)

        with stages.stage("evaluate"):
            evaluation = evaluate(client, record, split)
            storage.write_json(io_dir / "evaluation.json", evaluation)

        with stages.stage("model_gates"):
            outcomes = model_gates(record, evaluation, split, champion_version(client))
            gates.update({name: outcome.passed for name, outcome in outcomes.items()})
            blocks.update(outcomes)
        result["blocked_by"] = blocking_failures(gates, blocks)

        registered = None
        if not result["blocked_by"]:
            with stages.stage("register"):
                registered = register(client, record, evaluation)
                storage.write_json(io_dir / "registered_model_version.json", registered)
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
