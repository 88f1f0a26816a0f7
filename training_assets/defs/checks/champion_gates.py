"""Gates that compare against the production model (the registry's champion alias) and check
that the model serves. With no champion yet, the comparisons pass with a note saying so: the
first model has nothing to beat."""

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetIn, MetadataValue, multi_asset_check

from training_assets.core.gates.catalog import CHAMPION_GATES, evaluate_champion_gates
from training_assets.defs.checks.results import check_result, check_spec
from training_assets.defs.resources.gates import GateThresholds
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry

_INPUTS = ("trained_model", "test_x", "test_y", "test_keys")


@multi_asset_check(
    specs=[check_spec(gate, additional_deps=list(_INPUTS)) for gate in CHAMPION_GATES],
    ins={name: AssetIn(name) for name in ("evaluation", *_INPUTS)},
)
def champion_model_gates(
    context: AssetCheckExecutionContext,
    evaluation: dict,
    trained_model: dict,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    test_keys: pd.DataFrame,
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
    context.log.info(f"Challenger {trained_model['model_uri']} against {champion_uri}")
    outcomes, slice_table = evaluate_champion_gates(
        trained_model["model_uri"], champion_uri, test_x, test_y, test_keys, gates.limits()
    )
    for name, outcome in outcomes.items():
        extra = None
        if name == "worst_slice_within_limits":
            # The slices the gate judged, worst first; the failing ones are all in its evidence.
            judged = slice_table[slice_table["rows"] >= gates.slice_min_rows]
            extra = {"slices": MetadataValue.md(_markdown(judged.head(20)))}
        yield check_result(name, outcome, extra)


def _markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "---|" * len(table.columns)
    rows = [
        "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])
