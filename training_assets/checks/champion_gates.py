"""Gates that compare against the production model (the registry's champion alias).

With no champion yet, each passes with a note saying so: the first model has nothing to beat.
"""

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSpec,
    AssetIn,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from training_assets import challenger, drift, validation
from training_assets.assets.model import reference_profile
from training_assets.checks import check_result_kwargs
from training_assets.config import GateThresholds
from training_assets.lineage import REFERENCE_PROFILE_ARTIFACT
from training_assets.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.schema import FEATURES, LABEL


@asset_check(asset="training_data", blocking=True)
def drift_within_limits(
    training_data: pd.DataFrame,
    gates: GateThresholds,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
) -> AssetCheckResult:
    """Feature PSI and label rate against the champion's training data: warn, then block."""
    champion = model_registry.champion(mlflow_store.configure_client())
    if champion is None:
        return AssetCheckResult(passed=True, metadata={"note": challenger.NO_CHAMPION})
    # Stores report a missing or unreadable artifact with different exception types.
    try:
        reference = reference_profile(champion.run_id)
    except Exception as error:
        return AssetCheckResult(
            passed=False,
            metadata={
                "champion_version": int(champion.version),
                "expected": f"runs:/{champion.run_id}/{REFERENCE_PROFILE_ARTIFACT}",
                "found": f"{type(error).__name__}: {error}"[:2000],
                "reason": MetadataValue.text(
                    "the champion's training-data profile cannot be read, so drift cannot be "
                    "judged; restore its artifacts or move the champion alias"
                ),
            },
        )
    psi = drift.population_stability(reference["features"], training_data[list(FEATURES)])
    label_shift = float(training_data[LABEL].mean()) - reference["label_rate"]
    outcome, level = validation.drift_against_reference(
        psi,
        label_shift,
        gates.drift_warn_psi,
        gates.drift_block_psi,
        gates.label_shift_warn,
        gates.label_shift_block,
    )
    result = check_result_kwargs(outcome, warn_only=level != "block")
    result["metadata"]["champion_version"] = int(champion.version)
    return AssetCheckResult(**result)


_MODEL_GATES = {
    "no_regression_against_champion": "RMSE on this test split is not worse than the champion's.",
    "worst_slice_within_limits": "No large slice is bad, or much worse than the champion's.",
    "model_loads_and_predicts": "The logged model loads as pyfunc and predicts valid rows.",
    "signature_matches_champion": "The model takes the same inputs as the champion.",
    "latency_within_budget": "p95 time to predict a batch stays under the budget.",
}


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            name,
            asset="evaluation",
            blocking=True,
            description=description,
            additional_deps=["trained_model", "test_x", "test_y", "test_keys"],
        )
        for name, description in _MODEL_GATES.items()
    ],
    ins={
        "trained_model": AssetIn("trained_model"),
        "test_x": AssetIn("test_x"),
        "test_y": AssetIn("test_y"),
        "test_keys": AssetIn("test_keys"),
    },
)
def champion_model_gates(
    context: AssetCheckExecutionContext,
    trained_model: dict,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    test_keys: pd.DataFrame,
    gates: GateThresholds,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
):
    """The model serves, keeps the champion's inputs, is fast enough and beats the champion
    overall and on every large slice."""
    champion = model_registry.champion(mlflow_store.configure_client())
    champion_uri = None if champion is None else f"models:/{champion.name}/{champion.version}"
    outcomes, slice_table = challenger.judge(
        trained_model["model_uri"],
        champion_uri,
        test_x,
        test_y,
        _slice_values(gates.slice_column, test_x, test_keys),
        challenger.Limits(
            regression_tolerance=gates.regression_tolerance,
            slice_min_rows=gates.slice_min_rows,
            slice_rmse_ceiling=gates.slice_rmse_ceiling,
            slice_tolerance=gates.slice_tolerance,
            latency_batch_rows=gates.latency_batch_rows,
            latency_repeats=gates.latency_repeats,
            latency_budget_ms=gates.latency_budget_ms,
        ),
    )
    context.log.info(f"Challenger {trained_model['model_uri']} against {champion_uri}")
    for name, outcome in outcomes.items():
        extra = (
            {"slices": MetadataValue.md(_markdown(slice_table.head(20)))}
            if (name == "worst_slice_within_limits")
            else None
        )
        yield _result(name, outcome, extra)


def _result(name: str, outcome, extra: dict | None = None) -> AssetCheckResult:
    kwargs = check_result_kwargs(outcome)
    kwargs["metadata"].update(extra or {})
    return AssetCheckResult(asset_key="evaluation", check_name=name, **kwargs)


def _slice_values(column: str, test_x: pd.DataFrame, test_keys: pd.DataFrame) -> pd.Series:
    for frame in (test_keys, test_x):
        if column in frame.columns:
            return frame[column]
    raise ValueError(
        f"slice column {column!r} is in neither the test keys {list(test_keys.columns)} "
        f"nor the features {list(test_x.columns)}"
    )


def _markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "---|" * len(table.columns)
    rows = [
        "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])
