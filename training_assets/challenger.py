"""Judging a newly trained model (the challenger) against serving needs and the champion.

Plain functions over MLflow model URIs and test frames; the champion gates in
`training_assets.checks.champion_gates` run them and report each verdict.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training_assets import serving, slices, validation
from training_assets.validation import GateOutcome

NO_CHAMPION = "no champion yet: nothing to compare against"
CANNOT_SERVE = "the model cannot be served"


@dataclass(frozen=True)
class Limits:
    regression_tolerance: float
    slice_min_rows: int
    slice_rmse_ceiling: float
    slice_tolerance: float
    latency_batch_rows: int
    latency_repeats: int
    latency_budget_ms: float


def judge(
    model_uri: str,
    champion_uri: str | None,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    slice_values: pd.Series,
    limits: Limits,
) -> tuple[dict[str, GateOutcome], pd.DataFrame]:
    """Every challenger gate's outcome, and the per-slice table behind the slice gate.

    Args:
        model_uri: The challenger's logged model.
        champion_uri: The champion's model, or None when there is none yet.
        test_x, test_y: This run's test split; both models are scored on it.
        slice_values: The slice each test row belongs to, aligned with test_x.
        limits: The configured tolerances and budgets.
    """
    outcomes: dict[str, GateOutcome] = {}
    try:
        challenger = serving.load_pyfunc(model_uri)
        predicted = challenger.predict(test_x)
        outcomes["model_loads_and_predicts"] = GateOutcome(
            True, {"model_uri": model_uri, "rows": len(test_x)}
        )
    except Exception as error:  # whatever stops a load or a prediction stops serving
        challenger = None
        outcomes["model_loads_and_predicts"] = GateOutcome(
            False,
            {"model_uri": model_uri, "error": f"{type(error).__name__}: {error}"[:2000]},
            f"{CANNOT_SERVE}: {type(error).__name__}",
        )

    champion_schema = None if champion_uri is None else serving.input_schema(champion_uri)
    try:
        challenger_schema = serving.input_schema(model_uri)
    except Exception as error:
        challenger_schema = {"unreadable": f"{type(error).__name__}"}
    outcomes["signature_matches_champion"] = validation.signatures_match(
        challenger_schema, champion_schema
    )

    if challenger is None:
        for name in (
            "no_regression_against_champion",
            "worst_slice_within_limits",
            "latency_within_budget",
        ):
            outcomes[name] = GateOutcome(False, {"model_uri": model_uri}, CANNOT_SERVE)
        return outcomes, pd.DataFrame(columns=["slice", "rows", "rmse"])

    table = slices.slice_rmse(slice_values, test_y, predicted)
    rmse = _rmse(test_y, predicted)
    if champion_uri is None:
        outcomes["no_regression_against_champion"] = GateOutcome(
            True, {"challenger_rmse": rmse, "note": NO_CHAMPION}
        )
    else:
        try:
            champion_predicted = serving.load_pyfunc(champion_uri).predict(test_x)
        except Exception as error:  # e.g. the champion needs inputs this split lacks
            champion_predicted = None
            outcomes["no_regression_against_champion"] = GateOutcome(
                False,
                {"champion_uri": champion_uri, "error": f"{type(error).__name__}: {error}"[:2000]},
                "the champion cannot score this test split, so the challenger cannot be compared",
            )
        if champion_predicted is not None:
            champion_table = slices.slice_rmse(slice_values, test_y, champion_predicted)
            table = table.merge(
                champion_table[["slice", "rmse"]].rename(columns={"rmse": "champion_rmse"}),
                on="slice",
            )
            outcome = validation.no_regression(
                rmse, _rmse(test_y, champion_predicted), limits.regression_tolerance
            )
            outcome.evidence["champion_uri"] = champion_uri
            outcomes["no_regression_against_champion"] = outcome

    outcomes["worst_slice_within_limits"] = validation.worst_slice_within_limits(
        table, limits.slice_min_rows, limits.slice_rmse_ceiling, limits.slice_tolerance
    )
    batch = test_x.sample(
        n=limits.latency_batch_rows,
        replace=len(test_x) < limits.latency_batch_rows,
        random_state=0,
    )
    outcomes["latency_within_budget"] = validation.latency_within_budget(
        serving.p95_latency_ms(challenger, batch, limits.latency_repeats),
        limits.latency_budget_ms,
        len(batch),
    )
    return outcomes, table


def _rmse(truth: pd.Series, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((truth.to_numpy(dtype=float) - predicted) ** 2)))
