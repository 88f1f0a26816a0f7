"""The plain-script baseline that `bench.run` compares `training_job` against on the default sample.

    TRAINING_ASSETS_HOME=<area> python -m bench.plain_script --result out.json --mlflow-dir DIR

It does the work of `training_job` in one process, in the job's order, without Dagster: apply
the Feast repo, read the orders and join them point-in-time with the driver features, run the
data gates, split, fit the model and log it to MLflow, evaluate it, run the model gates, log
the model report, and register it as the champion if no blocking gate failed. Every step calls
the same core function the job's asset or check calls (`training_assets.core`): the gate list
and blocking rules, the thresholds' and settings' defaults, the model logging and the
registration are not restated here. Intermediate outputs are written as the job's IO managers
write them (parquet for tables, JSON for records), into a temporary directory in the working
area that is removed at the end. MLflow tracks to `DIR/mlflow.db` with artifacts in
`DIR/artifacts`.

The JSON written to --result holds the import and work seconds, the seconds of each stage, the
verdict of each gate, the evaluation, the champion version it was judged against and the
registered version (null when a gate blocked it; the champion's when the model is the same).
The exit code is 0 when the run completed, whether or not a gate blocked registration.
"""

import argparse
import contextlib
import importlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from training_assets.core import paths

if TYPE_CHECKING:
    import mlflow
    import pandas as pd
    from mlflow.entities.model_registry import ModelVersion
    from sklearn.pipeline import Pipeline

    from training_assets.core.gates.champion_gates import ChallengerJudgement
    from training_assets.core.gates.limits import GateLimits
    from training_assets.core.gates.outcome import GateOutcome
    from training_assets.core.ml.elastic_net import ElasticNetSettings
    from training_assets.core.ml.split import Split, SplitSettings
    from training_assets.core.records import Evaluation, TrainedModel
    from training_assets.core.schema import TrainingSchema

STARTED = time.perf_counter()

# Imported in main(), so that their cost is measured as imports_s.
HEAVY_MODULES = (
    "numpy",
    "pandas",
    "pyarrow",
    "sklearn",
    "feast",
    "feast.repo_operations",
    "mlflow",
    "mlflow.sklearn",
    "feast_asof.store",
    "training_assets.core.features.feast_repo",
    "training_assets.core.gates.catalog",
    "training_assets.core.tracking.model_log",
    "training_assets.core.tracking.registry",
)
# What the stages use, imported before the first stage so that no stage's seconds hold a
# first import.
WORK_MODULES = (
    "mlflow",
    "mlflow.sklearn",
    "mlflow.entities",
    "training_assets.core.records",
    "training_assets.core.data.fingerprints",
    "training_assets.core.data.orders",
    "training_assets.core.data.storage",
    "training_assets.core.features.feast_repo",
    "training_assets.core.gates.catalog",
    "training_assets.core.gates.limits",
    "training_assets.core.ml.elastic_net",
    "training_assets.core.ml.metrics",
    "training_assets.core.ml.split",
    "training_assets.core.ml.table",
    "training_assets.core.schema",
    "training_assets.core.tracking.evidence",
    "training_assets.core.tracking.lineage",
    "training_assets.core.tracking.model_log",
    "training_assets.core.tracking.registry",
)
RUN_NAME = "plain_script"


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


def configure_mlflow(mlflow_dir: Path):
    """Point mlflow at the sqlite store in `mlflow_dir`; returns a client on it."""
    import mlflow

    mlflow_dir.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{mlflow_dir / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient()


def start_run(mlflow_dir: Path) -> str:
    """Start the run in the experiment, which keeps its artifacts beside the sqlite store."""
    import mlflow

    from training_assets.core.tracking.registry import DEFAULT_EXPERIMENT

    if mlflow.get_experiment_by_name(DEFAULT_EXPERIMENT) is None:
        mlflow.create_experiment(
            DEFAULT_EXPERIMENT, artifact_location=(mlflow_dir / "artifacts").resolve().as_uri()
        )
    mlflow.set_experiment(DEFAULT_EXPERIMENT)
    return mlflow.start_run(run_name=RUN_NAME).info.run_id


@dataclass
class Prepared:
    """What the data stages hand on to the model's: the joined frame, the gates' verdicts so
    far, and where the data came from, for the model's lineage."""

    result: dict
    frame: "pd.DataFrame"
    schema: "TrainingSchema"
    outcomes: "dict[str, GateOutcome]"
    client: "mlflow.MlflowClient"
    location: Path
    orders_version: str
    stats_version: str


@dataclass(frozen=True)
class Settings:
    """The job's settings at their defaults, as the plain script runs them."""

    limits: "GateLimits"
    split: "SplitSettings"
    model: "ElasticNetSettings"


def feature_store(coerce_tz_aware: bool | None = None, provenance: bool = False):
    """The store as FeastResource opens it on its defaults."""
    from training_assets.core.features import feast_repo

    feast_dir = paths.default_feast_dir()
    return feast_repo.feature_store(
        paths.feature_repo(),
        registry=feast_dir / "registry.db",
        online_store=feast_dir / "online_store.db",
        coerce_tz_aware=coerce_tz_aware,
        provenance=provenance,
    )


def run(io_dir: Path, mlflow_dir: Path, stages: Stages) -> dict:
    """The job's work, stage by stage; stops after a blocking gate fails, as the job does."""
    for name in WORK_MODULES:
        importlib.import_module(name)
    from training_assets.core.data import storage
    from training_assets.core.gates.limits import GateLimits
    from training_assets.core.ml.elastic_net import ElasticNetSettings
    from training_assets.core.ml.split import SplitSettings, split_frame

    settings = Settings(GateLimits(), SplitSettings(), ElasticNetSettings())
    prepared = prepare_data(io_dir, mlflow_dir, stages, settings.limits)
    if prepared.result["blocked_by"]:
        return prepared.result

    with stages.stage("split"):
        split = split_frame(
            prepared.frame,
            prepared.schema.feature_names,
            settings.split.test_size,
            settings.split.random_seed,
            settings.split.strategy,
        )
        for output, value in split._asdict().items():
            storage.write_parquet(io_dir / f"{output}.parquet", value)

    return run_model(io_dir, mlflow_dir, stages, prepared, split, settings)


def prepare_data(io_dir: Path, mlflow_dir: Path, stages: Stages, limits: "GateLimits") -> Prepared:
    """Apply the repo, read and join the orders, and run the data gates."""
    from training_assets.core.data import fingerprints, orders, storage
    from training_assets.core.features import feast_repo
    from training_assets.core.gates import catalog
    from training_assets.core.ml.table import (
        as_training_table,
        positive_rate,
        rows_without_features,
        with_order_position,
    )
    from training_assets.core.schema import FEATURE_SERVICE
    from training_assets.core.tracking import registry

    with stages.stage("apply"):
        applied = feast_repo.apply_repo(
            feature_store(), paths.feature_repo(), paths.default_driver_stats_path()
        )
        storage.write_json(io_dir / "feature_store.json", applied)
    if FEATURE_SERVICE not in applied["feature_services"]:
        raise ValueError(f"feature service {FEATURE_SERVICE!r} is not in the repo")
    schema = feast_repo.applied_schema(feature_store(), FEATURE_SERVICE)

    with stages.stage("read_orders"):
        location = paths.default_orders_path()
        # Digests before reading, as the job takes them, for the lineage tags.
        orders_version = fingerprints.content_digest(orders.order_files(location))
        stats_version = fingerprints.content_digest([paths.default_driver_stats_path()])
        order_frame = orders.read_orders(location)

    with stages.stage("join"):
        entity_df = with_order_position(order_frame)
        already_utc = feast_repo.times_are_utc(entity_df)
        store = feature_store(coerce_tz_aware=False if already_utc else None, provenance=True)
        joined = feast_repo.historical_table(store, entity_df, FEATURE_SERVICE)
        table = as_training_table(joined, schema)
        storage.write_parquet(io_dir / "training_data.parquet", table)
        result = {
            "rows": table.num_rows,
            "rows_without_features": rows_without_features(table, schema.feature_names),
            "positive_rate": positive_rate(table),
        }

    with stages.stage("data_gates"):
        frame = table.to_pandas(split_blocks=True)
        del table, joined, order_frame
        outcomes = catalog.evaluate_data_gates(
            frame,
            schema,
            limits,
            orders.count_orders(location),
            feast_repo.feature_sources(store, FEATURE_SERVICE),
        )
        client = configure_mlflow(mlflow_dir)
        champion = registry.champion_version(
            client, registry.DEFAULT_MODEL_NAME, registry.DEFAULT_ALIAS
        )
        outcomes[catalog.DRIFT_GATE.name] = catalog.evaluate_drift_gate(
            client, frame, schema, champion, limits
        )
    result["gates"] = {name_: outcome.passed for name_, outcome in outcomes.items()}
    result["blocked_by"] = catalog.blocking_failures(outcomes)
    return Prepared(
        result, frame, schema, outcomes, client, location, orders_version, stats_version
    )


def run_model(
    io_dir: Path,
    mlflow_dir: Path,
    stages: Stages,
    prepared: Prepared,
    split: "Split",
    settings: Settings,
) -> dict:
    """Fit and log the model, evaluate it, run the model gates, log the report, and register
    it unless a blocking gate failed; the MLflow run ends FAILED if any of it raises."""
    import mlflow
    from mlflow.entities import RunStatus

    from training_assets.core.gates import catalog
    from training_assets.core.ml.elastic_net import coefficients

    result, client, outcomes = prepared.result, prepared.client, prepared.outcomes
    run_id = None
    try:
        with stages.stage("train_and_log"):
            run_id = start_run(mlflow_dir)
            model, record = train_and_log(io_dir, run_id, prepared, split, settings)

        with stages.stage("evaluate"):
            loaded, evaluation, champion, train_mean = evaluate(io_dir, client, record, split)

        with stages.stage("model_gates"):
            outcomes.update(catalog.evaluate_metric_gates(evaluation.metrics(), settings.limits))
            judgement = judge(io_dir, client, record, champion, split, train_mean, settings.limits)
            outcomes.update(judgement.outcomes)

        with stages.stage("report"):
            # The job's model_report: the same page from the same judgement, logged to the run.
            write_report(client, run_id, loaded, split, outcomes, judgement)
        result["gates"] = {name_: outcome.passed for name_, outcome in outcomes.items()}
        result["blocked_by"] = catalog.blocking_failures(outcomes)

        registered = None
        if not result["blocked_by"]:
            with stages.stage("register"):
                registered = register(io_dir, client, record, evaluation)
    except BaseException:
        if run_id is not None:
            mlflow.end_run(status=RunStatus.to_string(RunStatus.FAILED))
        raise
    # Like the job, a run whose gates stopped registration ends FAILED.
    status = RunStatus.FAILED if result["blocked_by"] else RunStatus.FINISHED
    mlflow.end_run(status=RunStatus.to_string(status))

    metric_names = ("rmse", "mae", "r2", "baseline_rmse", "test_rows")
    result["evaluation"] = {metric: getattr(evaluation, metric) for metric in metric_names}
    result["run_id"] = run_id
    result["model_uri"] = record.model_uri
    result["coefficients"] = coefficients(model)
    result["registered_version"] = registered
    # The version the model gates judged against (None: there was no champion yet).
    result["champion_version"] = evaluation.champion_version
    return result


def train_and_log(
    io_dir: Path, run_id: str, prepared: Prepared, split: "Split", settings: Settings
) -> tuple["Pipeline", "TrainedModel"]:
    """Fit the model on the train split and log it, with its lineage, to the active run."""
    import mlflow

    from training_assets.core import records
    from training_assets.core.data import fingerprints, storage
    from training_assets.core.ml.elastic_net import fit_elastic_net
    from training_assets.core.records import TrainedModel
    from training_assets.core.tracking import lineage, model_log

    model_settings = settings.model
    model = fit_elastic_net(
        split.train_x,
        split.train_y,
        model_settings.alpha,
        model_settings.l1_ratio,
        model_settings.random_state,
    )
    prefix = lineage.LINEAGE_PREFIX
    run_config = {
        "ops": {
            "splits": {"config": settings.split.model_dump()},
            "trained_model": {"config": model_settings.model_dump()},
        }
    }
    info = model_log.log_trained_model(
        prepared.client,
        run_id,
        model,
        split.train_x,
        split.train_y,
        params={
            "alpha": model_settings.alpha,
            "l1_ratio": model_settings.l1_ratio,
            "random_state": model_settings.random_state,
            "search": model_settings.search,
        },
        lineage={
            f"{prefix}git_commit": lineage.git_commit(),
            f"{prefix}code_digest": lineage.code_digest(),
            f"{prefix}config_digest": lineage.config_digest(run_config),
            f"{prefix}data_digest": fingerprints.combined_digest(
                prepared.orders_version, prepared.stats_version
            ),
            f"{prefix}orders_version": prepared.orders_version,
            f"{prefix}driver_stats_version": prepared.stats_version,
            f"{prefix}orders_path": str(prepared.location),
        },
        run_config=run_config,
    )
    record = TrainedModel(
        run_id=run_id,
        model_uri=info.model_uri,
        model_id=info.model_id,
        experiment_id=mlflow.active_run().info.experiment_id,
    )
    storage.write_json(io_dir / "trained_model.json", records.dump(record))
    return model, record


def evaluate(
    io_dir: Path, client: "mlflow.MlflowClient", record: "TrainedModel", split: "Split"
) -> tuple["Pipeline", "Evaluation", "ModelVersion | None", float]:
    """The logged model's scores on the test split, against the champion of the moment;
    returns the loaded model, the evaluation, the champion and the train labels' mean."""
    import mlflow.sklearn

    from training_assets.core import records
    from training_assets.core.data import storage
    from training_assets.core.ml.metrics import regression_metrics
    from training_assets.core.records import Evaluation
    from training_assets.core.tracking import model_log, registry

    loaded = mlflow.sklearn.load_model(record.model_uri)
    train_mean = float(split.train_y.mean())
    metrics = regression_metrics(loaded, split.test_x, split.test_y, train_mean)
    model_log.log_scores(client, record.run_id, metrics)
    champion = registry.champion_version(
        client, registry.DEFAULT_MODEL_NAME, registry.DEFAULT_ALIAS
    )
    champion_version = None if champion is None else int(champion.version)
    evaluation = Evaluation.of(record, champion_version, metrics)
    storage.write_json(io_dir / "evaluation.json", records.dump(evaluation))
    return loaded, evaluation, champion, train_mean


def judge(
    io_dir: Path,
    client: "mlflow.MlflowClient",
    record: "TrainedModel",
    champion: "ModelVersion | None",
    split: "Split",
    train_mean: float,
    limits: "GateLimits",
) -> "ChallengerJudgement":
    """The job's challenger_judgement: the champion gates, judged once."""
    from training_assets.core import records
    from training_assets.core.data import storage
    from training_assets.core.gates import catalog
    from training_assets.core.tracking import registry

    name = registry.DEFAULT_MODEL_NAME
    judgement = catalog.evaluate_champion_gates(
        client,
        record.model_uri,
        None if champion is None else int(champion.version),
        None if champion is None else f"models:/{name}/{champion.version}",
        split.test_x,
        split.test_y,
        split.test_keys,
        train_mean,
        limits,
    )
    storage.write_json(io_dir / "challenger_judgement.json", records.dump(judgement))
    return judgement


def register(
    io_dir: Path, client: "mlflow.MlflowClient", record: "TrainedModel", evaluation: "Evaluation"
) -> int:
    """Register the model and point the alias at it; returns the registered version."""
    from training_assets.core import records
    from training_assets.core.data import storage
    from training_assets.core.records import RegisteredModelVersion
    from training_assets.core.tracking import evidence, registry

    name, alias = registry.DEFAULT_MODEL_NAME, registry.DEFAULT_ALIAS
    version, outcome = registry.register_with_alias(
        client,
        name,
        alias,
        record.model_uri,
        record.run_id,
        signing_key=evidence.configured_signing_key(),
    )
    registered = int(version.version)
    stored = RegisteredModelVersion(
        name=name,
        version=registered,
        alias=alias,
        challenger_alias=None,
        promotion="automatic",
        model_uri=version.source,
        run_id=version.run_id,
        trained_run_id=record.run_id,
        rmse=evaluation.rmse,
        outcome=outcome,
    )
    storage.write_json(io_dir / "registered_model_version.json", records.dump(stored))
    return registered


def write_report(client, run_id, model, split, outcomes, judgement) -> None:
    """The model report as the job's `model_report` renders and logs it."""
    from training_assets.core.ml.elastic_net import coefficients
    from training_assets.core.report import blocking, gate_verdicts, page, score_split
    from training_assets.core.tracking.model_log import log_report

    verdicts = gate_verdicts(outcomes)
    report = page(
        f"model of {RUN_NAME}",
        run_id,
        judgement.champion_version,
        verdicts,
        score_split(
            model,
            split.test_x,
            split.test_y,
            float(split.train_y.mean()),
            judgement.champion_scores,
        ),
        judgement.slice_table(),
        split.test_y.to_numpy(),
        coefficients(model),
        slice_min_rows=judgement.limits.slice_min_rows,
    )
    log_report(client, run_id, report, blocking(verdicts))


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
