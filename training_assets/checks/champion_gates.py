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

from training_assets import drift, serving, slices, validation
from training_assets.assets.model import reference_profile
from training_assets.checks import check_result_kwargs
from training_assets.config import GateThresholds
from training_assets.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.schema import FEATURES, LABEL

NO_CHAMPION = "no champion yet: nothing to compare against"


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
        return AssetCheckResult(passed=True, metadata={"note": NO_CHAMPION})
    reference = reference_profile(champion.run_id)
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
        "evaluation": AssetIn("evaluation"),
        "trained_model": AssetIn("trained_model"),
        "test_x": AssetIn("test_x"),
        "test_y": AssetIn("test_y"),
        "test_keys": AssetIn("test_keys"),
    },
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
    overall and on every large slice."""
    client = mlflow_store.configure_client()
    model_uri = trained_model["model_uri"]

    # Served the way a server loads it: a fresh pyfunc load, inputs checked by the signature.
    try:
        challenger = serving.load_pyfunc(model_uri)
        predicted = challenger.predict(test_x)
        served = validation.GateOutcome(True, {"model_uri": model_uri, "rows": len(test_x)})
    except Exception as error:  # any failure to load or predict means it cannot be served
        challenger, predicted = None, None
        served = validation.GateOutcome(
            False,
            {"model_uri": model_uri, "error": f"{type(error).__name__}: {error}"},
            f"the model cannot be served: {type(error).__name__}",
        )
    yield _result("model_loads_and_predicts", served)

    champion = model_registry.champion(client)
    champion_uri = None if champion is None else f"models:/{champion.name}/{champion.version}"
    yield _result(
        "signature_matches_champion",
        validation.signatures_match(
            serving.input_schema(model_uri),
            None if champion_uri is None else serving.input_schema(champion_uri),
        ),
    )
    if challenger is None:
        for name in (
            "no_regression_against_champion",
            "worst_slice_within_limits",
            "latency_within_budget",
        ):
            yield _result(name, validation.GateOutcome(False, {}, "the model cannot be served"))
        return

    slice_values = _slice_values(gates.slice_column, test_x, test_keys)
    table = slices.slice_rmse(slice_values, test_y, predicted)
    if champion_uri is None:
        yield _result(
            "no_regression_against_champion",
            validation.GateOutcome(
                True, {"challenger_rmse": evaluation["rmse"], "note": NO_CHAMPION}
            ),
        )
    else:
        champion_predicted = serving.load_pyfunc(champion_uri).predict(test_x)
        champion_table = slices.slice_rmse(slice_values, test_y, champion_predicted)
        table = table.merge(
            champion_table[["slice", "rmse"]].rename(columns={"rmse": "champion_rmse"}),
            on="slice",
        )
        champion_rmse = float(
            ((test_y.to_numpy(dtype=float) - champion_predicted) ** 2).mean() ** 0.5
        )
        outcome = validation.no_regression(
            evaluation["rmse"], champion_rmse, gates.regression_tolerance
        )
        outcome.evidence["champion_version"] = int(champion.version)
        yield _result("no_regression_against_champion", outcome)

    sliced = validation.worst_slice_within_limits(
        table, gates.slice_min_rows, gates.slice_rmse_ceiling, gates.slice_tolerance
    )
    yield _result(
        "worst_slice_within_limits",
        sliced,
        extra={"slices": MetadataValue.md(_markdown(table.head(20)))},
    )

    batch = test_x.sample(
        n=gates.latency_batch_rows, replace=len(test_x) < gates.latency_batch_rows, random_state=0
    )
    p95 = serving.p95_latency_ms(challenger, batch, gates.latency_repeats)
    yield _result(
        "latency_within_budget",
        validation.latency_within_budget(p95, gates.latency_budget_ms, len(batch)),
    )
    context.log.info(f"Challenger {model_uri}: p95 {p95:.1f} ms per {len(batch)} rows")


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
