"""The trained model's HTML report, logged to its MLflow run, whether or not it passed.

It is built beside `evaluation`, not after it: a blocking gate on `evaluation` holds back what
is downstream of it, and a rejected model needs its report most. So it scores the model and
runs the model gates' own functions (core/gates/catalog.py) on the same split, shows the
champion gates' outcomes from `challenger_judgement`, and takes the data gates' verdicts from
this run's check results.
"""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    DagsterEventType,
    Failure,
    MetadataValue,
    asset,
)

from training_assets.core.data.table_query import TableFile, column_mean
from training_assets.core.gates import catalog
from training_assets.core.gates.champion_gates import ChallengerJudgement
from training_assets.core.ml.elastic_net import coefficients
from training_assets.core.records import ModelReport, TrainedModel
from training_assets.core.report import Verdict, blocking, gate_verdicts, page, score_split
from training_assets.core.tracking.lineage import REPORT_ARTIFACT
from training_assets.core.tracking.model_files import load_sklearn
from training_assets.core.tracking.model_log import log_report
from training_assets.defs import links
from training_assets.defs.instance_reads import retried
from training_assets.defs.live_records import latest_by_day
from training_assets.defs.metadata import score_metadata
from training_assets.defs.resources.gates import GateThresholds
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.defs.tags import OWNERS


@asset(
    owners=OWNERS,
    group_name="training",
    io_manager_key="json_io_manager",
    kinds={"mlflow", "html"},
    code_version="2",
)
def model_report(
    context: AssetExecutionContext,
    trained_model: TrainedModel,
    challenger_judgement: ChallengerJudgement,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    train_y: TableFile,
    gates: GateThresholds,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
) -> ModelReport:
    """The model's report (gates, scores against the baseline and the champion, slices,
    calibration, coefficients, drift) as `model_report.html` in its MLflow run, with the run
    tagged by the gates that stopped it."""
    client = mlflow_store.configure_client()
    limits = gates.limits()
    run_id = trained_model.run_id
    model = load_sklearn(client, trained_model.model_uri)
    judgement = challenger_judgement
    differences = judgement.differences(trained_model.model_uri, judgement.champion_version, limits)
    if differences:
        # A report of this model showing another judgement's verdicts would be a wrong answer.
        raise Failure(
            description=f"challenger_judgement judged other {', '.join(differences)} than "
            "this report's: materialize challenger_judgement and model_report together",
            metadata={"differences": MetadataValue.json(differences)},
        )
    scored = score_split(model, test_x, test_y, column_mean(train_y), judgement.champion_scores)
    metrics = scored.metrics
    outcomes = {**catalog.evaluate_metric_gates(metrics, limits), **judgement.outcomes}
    verdicts = _data_gate_verdicts(context) + gate_verdicts(outcomes)
    failed = blocking(verdicts)
    report = page(
        f"{model_registry.model_name}: model of Dagster run {context.run.run_id[:8]}",
        run_id,
        judgement.champion_version,
        verdicts,
        scored,
        judgement.slice_table(),
        test_y.to_numpy(),
        coefficients(model),
        slice_min_rows=judgement.limits.slice_min_rows,
        champion_live=_champion_live(context, judgement.champion_version),
    )
    verdict = log_report(client, run_id, report, failed)
    run_info = client.get_run(run_id).info
    location = f"{run_info.artifact_uri.rstrip('/')}/{REPORT_ARTIFACT}"
    context.add_output_metadata(
        {
            "report": links.mlflow_artifact(
                mlflow_store.ui_base_url(), run_info.experiment_id, run_id, REPORT_ARTIFACT
            ),
            "report_location": MetadataValue.text(location),
            "mlflow_run": links.mlflow_run(
                mlflow_store.ui_base_url(), run_info.experiment_id, run_id
            ),
            "verdict": verdict,
            "gates_failed": MetadataValue.json(failed),
            **score_metadata(metrics),
        }
    )
    return ModelReport(run_id=run_id, report=location, verdict=verdict, gates_failed=failed)


# The champion's live figures the report shows, as live_model_quality records them per day.
_LIVE_COLUMNS = {
    "champion.labelled_rows": "labelled_rows",
    "champion.rmse": "live_rmse",
    "champion.offline_rmse": "offline_rmse",
    "champion.auc": "live_auc",
    "champion.mean_prediction": "mean_prediction",
    "champion.label_rate": "label_rate",
    "champion.judged": "judged",
    "gate.champion_live_rmse_within_tolerance": "within_tolerance",
}


def _champion_live(context: AssetExecutionContext, version: int | None) -> pd.DataFrame | None:
    """Each recorded day on which champion version `version` answered, oldest first."""
    if version is None:
        return None
    days = latest_by_day(context.instance)
    rows = [
        {"day": day, **{shown: figures.get(key) for key, shown in _LIVE_COLUMNS.items()}}
        for day, figures in sorted(days.items())
        if figures.get("champion.version") == version
    ]
    frame = pd.DataFrame(rows, columns=["day", *_LIVE_COLUMNS.values()])
    # A day with too few labels passes the gate unjudged: no verdict is shown for it.
    frame["within_tolerance"] = frame["within_tolerance"].where(frame["judged"].eq(True), None)
    return frame


def _data_gate_verdicts(context: AssetExecutionContext) -> list[Verdict]:
    """The checks of training_data that ran in this run (its blocking ones had to pass for
    this model to be trained; the warnings are shown as they were)."""
    verdicts = []
    evaluations = retried(
        lambda: context.instance.all_logs(
            context.run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        ),
        "this run's check evaluations",
    )
    for record in evaluations:
        evaluation = record.dagster_event.event_specific_data
        if evaluation.asset_key != AssetKey(catalog.TRAINING_DATA):
            continue
        figures = {
            key: value.value
            for key, value in evaluation.metadata.items()
            # "psi.conv_rate" repeats an entry of "psi", split out for the UI's plots.
            if key.split(".", 1)[0] == key or key.split(".", 1)[0] not in evaluation.metadata
        }
        reason = str(figures.pop("reason", ""))
        verdicts.append(
            Verdict(
                gate=evaluation.check_name,
                asset=catalog.TRAINING_DATA,
                passed=evaluation.passed,
                blocks=not evaluation.passed and evaluation.severity.value == "ERROR",
                reason=reason,
                figures=figures,
            )
        )
    return verdicts
