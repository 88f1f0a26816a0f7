"""The live quality of a day: each model version's scores on the labelled predictions, the
challenger against the champion on the same rows, and the drift of the served features."""

import dataclasses
from collections.abc import Iterator
from datetime import date

import mlflow
import pyarrow as pa
from dagster import AssetCheckResult, AssetExecutionContext, MetadataValue, Output, asset
from mlflow.exceptions import MlflowException

from training_assets.core.gates.catalog import LIVE_GATES, evaluate_live_gates
from training_assets.core.monitoring.prediction_log import CHALLENGER, PREVIOUS
from training_assets.core.monitoring.quality import (
    SCORES,
    SERVED_COLUMNS,
    LiveQuality,
    ModelQuality,
    model_quality,
    of_model,
    paired_comparisons,
    served_drift,
    served_features,
)
from training_assets.core.tracking.profiles import reference_profile
from training_assets.defs.checks.results import check_result, check_spec
from training_assets.defs.partitions import serving_days
from training_assets.defs.resources.gates import GateThresholds
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.defs.resources.prediction_log import PredictionLogResource
from training_assets.defs.tags import OWNERS


@asset(
    owners=OWNERS,
    group_name="monitoring",
    io_manager_key="json_io_manager",
    kinds={"mlflow"},
    # 2: the served features read from the day's log, the outcomes no longer holding them.
    code_version="2",
    partitions_def=serving_days,
    # Judged in the same step, on the day's quality in hand: a check of its own would load
    # the asset without knowing which day its run is for.
    check_specs=[check_spec(gate) for gate in LIVE_GATES],
)
def live_model_quality(
    context: AssetExecutionContext,
    prediction_outcomes: pa.Table,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
    gates: GateThresholds,
    prediction_log: PredictionLogResource,
) -> Iterator[Output[LiveQuality] | AssetCheckResult]:
    """Per model version of the day: RMSE, MAE, AUC, Brier score, log loss, label rate, mean
    prediction and labelled rows, its offline test RMSE, the PSI of the features it was served
    against its training profile; and each challenger against the champion on the same
    labelled rows (the RMSE gain with a bootstrap 95% interval); judged by the live gates.

    The served features are read from the day's log (the outcomes do not hold them), as the
    outcomes read it: one row per prediction, its latest score."""
    client = mlflow_store.configure_client()
    outcomes = of_model(prediction_outcomes, model_registry.model_name)
    day = date.fromisoformat(context.partition_key)
    logged = of_model(
        prediction_log.sink().read(day, columns=SERVED_COLUMNS), model_registry.model_name
    )
    models = [
        _with_training_figures(client, model_registry.model_name, model, logged)
        for model in model_quality(outcomes)
    ]
    seed = int(context.partition_key.replace("-", ""))
    comparisons = paired_comparisons(outcomes, gates.bootstrap_samples, seed)
    quality = LiveQuality(context.partition_key, models, comparisons)
    # The champion as the day is judged: a rollback named by a failure is of this one.
    champion = model_registry.champion(client)
    verdicts = evaluate_live_gates(
        quality,
        gates.limits(),
        model_registry.rollback_on_live_regression,
        champion_now=None if champion is None else int(champion.version),
    )
    # The verdicts beside the figures too: what acts on a day (the live retrain and shadow
    # promotion sensors) reads them from the materialization, one record per day.
    judged = {
        f"gate.{name}": MetadataValue.bool(outcome.passed) for name, outcome in verdicts.items()
    }
    champion_judged = verdicts["champion_live_rmse_within_tolerance"].evidence.get("judged")
    judged["champion.judged"] = MetadataValue.bool(bool(champion_judged))
    yield Output(quality, metadata={**_plotted(quality), **judged})
    for name, outcome in verdicts.items():
        yield check_result(name, outcome)


def _with_training_figures(
    client: mlflow.MlflowClient, model_name: str, model: ModelQuality, logged: pa.Table
) -> ModelQuality:
    """`model` with its offline test RMSE and its served features' drift (of its rows among
    the day's `logged` ones), from the version's MLflow run; without them when the version is
    gone from the registry."""
    try:
        version = client.get_model_version(model_name, str(model.model_version))
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return model
    offline = client.get_run(version.run_id).data.metrics.get("rmse")
    served = served_features(logged, model.role, model.model_version)
    psi = served_drift(reference_profile(client, version.run_id)["features"], served)
    return dataclasses.replace(model, offline_rmse=offline, served_rows=len(served), served_psi=psi)


def _plotted(quality: LiveQuality) -> dict:
    """Numbers under names that stay the same from day to day, so the UI plots them across
    partitions: the champion's and the challenger's figures, the paired gain."""
    metadata: dict = {
        "models": MetadataValue.json([dataclasses.asdict(m) for m in quality.models]),
        "comparisons": MetadataValue.json([dataclasses.asdict(c) for c in quality.comparisons]),
    }
    for role in ("champion", "challenger"):
        parts = [model for model in quality.models if model.role == role]
        if not parts:
            continue
        model = max(parts, key=lambda m: (m.labelled_rows, m.rows))
        metadata[f"{role}.version"] = model.model_version
        metadata[f"{role}.rows"] = model.rows
        metadata[f"{role}.labelled_rows"] = model.labelled_rows
        for name in ("label_rate", "mean_prediction", *SCORES, "offline_rmse"):
            value = getattr(model, name)
            if value is not None:
                metadata[f"{role}.{name}"] = float(value)
        for feature, value in model.served_psi.items():
            metadata[f"{role}.psi.{feature}"] = float(value)
    # The challenger's gain unprefixed, as before there were two shadows; the previous
    # champion's under `previous.`.
    for role, prefix in ((CHALLENGER, ""), (PREVIOUS, "previous.")):
        compared = [c for c in quality.comparisons if c.shadow_role == role]
        if not compared:
            continue
        comparison = max(compared, key=lambda c: c.paired_rows)
        metadata[f"{prefix}paired_rows"] = comparison.paired_rows
        if prefix:
            metadata[f"{prefix}version"] = comparison.challenger_version
        for name in ("rmse_gain", "gain_low", "gain_high"):
            value = getattr(comparison, name)
            if value is not None:
                metadata[f"{prefix}{name}"] = float(value)
    return metadata
