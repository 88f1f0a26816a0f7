"""Gates that compare against the production model (the registry's champion alias) and check
that the model serves. With no champion yet, the comparisons pass with a note saying so: the
first model has nothing to beat.

The report (`model_report`) runs these gates' functions on the same split to show them, and
records their outcomes; the check reports those when the report judged the same test split
and challenger against the champion `evaluation` pinned, under this run's limits, and judges
afresh otherwise. At 100M orders, that is 20M test rows not loaded and scored a second time.
"""

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetIn, MetadataValue, multi_asset_check

from training_assets.core.data import locations, storage
from training_assets.core.data.table_query import TableFile
from training_assets.core.gates.catalog import (
    CHAMPION_GATES,
    RECORDED_SLICES,
    evaluate_champion_gates,
    recorded_judgement,
)
from training_assets.defs.checks.results import check_result, check_spec
from training_assets.defs.materializations import split_run
from training_assets.defs.resources.gates import GateThresholds
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry

_INPUTS = ("trained_model", "model_report", "test_x", "test_y", "test_keys")


@multi_asset_check(
    specs=[check_spec(gate, additional_deps=list(_INPUTS)) for gate in CHAMPION_GATES],
    ins={name: AssetIn(name) for name in ("evaluation", *_INPUTS)},
)
def champion_model_gates(
    context: AssetCheckExecutionContext,
    evaluation: dict,
    trained_model: dict,
    model_report: dict,
    test_x: TableFile,
    test_y: TableFile,
    test_keys: TableFile,
    gates: GateThresholds,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
):
    """The model serves, keeps the champion's inputs, is fast enough and beats the champion
    overall and on every large slice. The champion is the version `evaluation` pinned, which
    the registration checks is still the champion."""
    mlflow_store.configure_client()
    pinned = evaluation.get("champion_version")
    champion_uri = None if pinned is None else f"models:/{model_registry.model_name}/{pinned}"
    model_uri = trained_model["model_uri"]
    limits = gates.limits()
    recorded = recorded_judgement(
        model_report.get("champion_gates"),
        split_run(context.instance, context.run.run_id),
        model_uri,
        champion_uri,
        limits,
    )
    if recorded is not None:
        outcomes, judged = recorded
        context.log.info(f"Challenger {model_uri} against {champion_uri}, as the report judged")
    else:
        context.log.info(f"Challenger {model_uri} against {champion_uri}")
        outcomes, slice_table = evaluate_champion_gates(
            model_uri, champion_uri, _load(test_x), _load(test_y), _load(test_keys), limits
        )
        judged = slice_table[slice_table["rows"] >= limits.slice_min_rows]
    for name, outcome in outcomes.items():
        extra = None
        if name == "worst_slice_within_limits":
            # The slices the gate judged, worst first; the failing ones are all in its evidence.
            extra = {"slices": MetadataValue.md(_markdown(judged.head(RECORDED_SLICES)))}
        yield check_result(name, outcome, extra)


def _load(file: TableFile) -> pd.DataFrame | pd.Series:
    """The frame or series the parquet IO manager would have loaded."""
    return storage.read_parquet(locations.resolve(file.path))


def _markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "---|" * len(table.columns)
    rows = [
        "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])
