"""Gates that judge a newly trained model (the challenger) against serving needs and the champion.

Plain functions over MLflow model URIs and test frames. `judge` runs them all.
"""

import numpy as np
import pandas as pd

from training_assets.core.gates.limits import GateLimits
from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.ml import serving
from training_assets.core.ml.metrics import slice_rmse

NO_CHAMPION = "no champion yet: nothing to compare against"
CANNOT_SERVE = "the model cannot be served"


def judge(
    model_uri: str,
    champion_uri: str | None,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    slice_values: pd.Series,
    limits: GateLimits,
    predictions: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, GateOutcome], pd.DataFrame]:
    """Every challenger gate's outcome, and the per-slice table behind the slice gate.

    Args:
        model_uri: The challenger's logged model.
        champion_uri: The champion's model, or None when there is none yet.
        test_x, test_y: This run's test split; both models are scored on it.
        slice_values: The slice each test row belongs to, aligned with test_x.
        limits: The configured tolerances and budgets.
        predictions: When given, filled with the predictions the gates made on test_x, under
            "challenger" and "champion" (each when that model predicted), for a caller that
            reports them: 20M rows are not scored twice.
    """
    made = predictions if predictions is not None else {}
    outcomes: dict[str, GateOutcome] = {}
    try:
        challenger = serving.load_pyfunc(model_uri)
        predicted = made["challenger"] = challenger.predict(test_x)
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
    outcomes["signature_matches_champion"] = signatures_match(challenger_schema, champion_schema)

    if challenger is None:
        for name in (
            "no_regression_against_champion",
            "worst_slice_within_limits",
            "latency_within_budget",
        ):
            outcomes[name] = GateOutcome(False, {"model_uri": model_uri}, CANNOT_SERVE)
        return outcomes, pd.DataFrame(columns=["slice", "rows", "rmse"])

    table = slice_rmse(slice_values, test_y, predicted)
    rmse = _rmse(test_y, predicted)
    if champion_uri is None:
        outcomes["no_regression_against_champion"] = GateOutcome(
            True, {"challenger_rmse": rmse, "note": NO_CHAMPION}
        )
    else:
        try:
            champion_predicted = serving.load_pyfunc(champion_uri).predict(test_x)
            made["champion"] = champion_predicted
        except Exception as error:  # e.g. the champion needs inputs this split lacks
            champion_predicted = None
            outcomes["no_regression_against_champion"] = GateOutcome(
                False,
                {"champion_uri": champion_uri, "error": f"{type(error).__name__}: {error}"[:2000]},
                "the champion cannot score this test split, so the challenger cannot be compared",
            )
        if champion_predicted is not None:
            champion_table = slice_rmse(slice_values, test_y, champion_predicted)
            table = table.merge(
                champion_table[["slice", "rmse"]].rename(columns={"rmse": "champion_rmse"}),
                on="slice",
            )
            outcome = no_regression(
                rmse, _rmse(test_y, champion_predicted), limits.regression_tolerance
            )
            outcome.evidence["champion_uri"] = champion_uri
            outcomes["no_regression_against_champion"] = outcome

    outcomes["worst_slice_within_limits"] = worst_slice_within_limits(
        table, limits.slice_min_rows, limits.slice_rmse_ceiling, limits.slice_tolerance
    )
    # numpy's Generator draws the rows without shuffling them all, as pandas' sample does
    # (1.5 s of 20M test rows).
    batch = test_x.iloc[
        np.random.default_rng(0).choice(
            len(test_x),
            limits.latency_batch_rows,
            replace=len(test_x) < limits.latency_batch_rows,
        )
    ]
    outcomes["latency_within_budget"] = latency_within_budget(
        serving.p95_latency_ms(challenger, batch, limits.latency_repeats),
        limits.latency_budget_ms,
        len(batch),
    )
    return outcomes, table


def no_regression(challenger_rmse: float, champion_rmse: float, tolerance: float) -> GateOutcome:
    """The challenger's RMSE exceeds the champion's by at most `tolerance` on the same rows."""
    excess = challenger_rmse - champion_rmse
    return GateOutcome(
        passed=excess <= tolerance,
        evidence={
            "challenger_rmse": challenger_rmse,
            "champion_rmse": champion_rmse,
            "excess": excess,
            "tolerance": tolerance,
        },
        description=f"RMSE {challenger_rmse:.4f} is {excess:.4f} worse than the champion's "
        f"{champion_rmse:.4f}, beyond {tolerance}"
        if excess > tolerance
        else "",
    )


def worst_slice_within_limits(
    slices: pd.DataFrame, min_rows: int, ceiling: float, tolerance: float
) -> GateOutcome:
    """No slice with `min_rows` rows has RMSE above `ceiling`, or above the champion's + tolerance.

    Args:
        slices: One row per slice with `slice`, `rows`, `rmse` and, when there is a champion,
            `champion_rmse`.
    """
    judged = slices[slices["rows"] >= min_rows]
    failing = judged[judged["rmse"] > ceiling]
    if "champion_rmse" in judged.columns:
        failing = judged[
            (judged["rmse"] > ceiling) | (judged["rmse"] > judged["champion_rmse"] + tolerance)
        ]
    failing = failing.sort_values("rmse", ascending=False)
    worst = judged.sort_values("rmse", ascending=False).head(1)
    names = [str(value) for value in failing["slice"]]
    return GateOutcome(
        passed=failing.empty,
        evidence={
            "slices_judged": len(judged),
            "slices_too_small": int(len(slices) - len(judged)),
            "min_rows": min_rows,
            "ceiling": ceiling,
            "tolerance": tolerance,
            # Every failing slice, worst first, and its figures; small slices are not judged.
            "failing_slices": names,
            "failing_slice_figures": _records(failing),
            "worst_rmse": float(worst["rmse"].iloc[0]) if len(worst) else 0.0,
            "worst_slice": _records(worst)[0] if len(worst) else {},
        },
        description=f"{len(names)} slice(s) fail: {', '.join(names[:10])}"
        + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        if names
        else "",
    )


def _records(table: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts, the slice value as text."""
    return [
        {
            key: str(value) if key == "slice" else (int(value) if key == "rows" else float(value))
            for key, value in row.items()
        }
        for row in table.to_dict("records")
    ]


def signatures_match(challenger: dict, champion: dict | None) -> GateOutcome:
    """The challenger's input schema equals the champion's (or there is no champion)."""
    if champion is None:
        return GateOutcome(True, {"challenger_inputs": challenger, "note": "no champion yet"})
    added = sorted(set(challenger) - set(champion))
    removed = sorted(set(champion) - set(challenger))
    retyped = {
        name: {"champion": champion[name], "challenger": challenger[name]}
        for name in set(challenger) & set(champion)
        if challenger[name] != champion[name]
    }
    passed = not (added or removed or retyped)
    return GateOutcome(
        passed=passed,
        evidence={
            "champion_inputs": champion,
            "challenger_inputs": challenger,
            "added": added,
            "removed": removed,
            "retyped": retyped,
        },
        description="" if passed else f"inputs differ: +{added} -{removed} ~{sorted(retyped)}",
    )


def latency_within_budget(p95_ms: float, budget_ms: float, batch_rows: int) -> GateOutcome:
    """The p95 time to predict one batch stays under the budget."""
    return GateOutcome(
        passed=p95_ms <= budget_ms,
        evidence={"p95_ms": p95_ms, "budget_ms": budget_ms, "batch_rows": batch_rows},
        description=f"p95 {p95_ms:.1f} ms for {batch_rows} rows above {budget_ms} ms"
        if p95_ms > budget_ms
        else "",
    )


def _rmse(truth: pd.Series, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((truth.to_numpy(dtype=float) - predicted) ** 2)))
