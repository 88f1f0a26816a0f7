"""Gates that judge a newly trained model (the challenger) against serving needs and the champion.

Plain functions over MLflow model URIs and test frames. `judge` runs them all; what they found
is kept as a `ChallengerJudgement` (made by catalog.py `evaluate_champion_gates`), the value of
the `challenger_judgement` asset that the report shows and the champion gates' checks report.
"""

from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from training_assets.core.gates.limits import GateLimits
from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.ml import serving
from training_assets.core.ml.metrics import slice_rmse

NO_CHAMPION = "no champion yet: nothing to compare against"
CANNOT_SERVE = "the model cannot be served"
# Slices a judgement keeps to show: the worst judged ones, then the worst of those too small
# to judge. Every failing slice is named in the slice gate's evidence all the same.
KEPT_SLICES = 25


@dataclass(frozen=True)
class SliceScore:
    """The challenger's RMSE on one slice of the test split, and the champion's."""

    slice: str | int | float | bool  # the slice column's value, as text unless a JSON scalar
    rows: int
    rmse: float
    champion_rmse: float | None = None  # None: no champion, or it could not score the split


@dataclass(frozen=True)
class ChallengerJudgement:
    """The champion gates' outcomes for the challenger `model_uri` against the champion version
    `champion_version` (None: there was none yet) on the test split, under `limits`.

    The champion is pinned here: `evaluation` records this version, and the registration
    refuses to go on if the champion moved since.
    """

    model_uri: str
    champion_version: int | None
    champion_uri: str | None
    limits: GateLimits
    outcomes: dict[str, GateOutcome]
    # The worst KEPT_SLICES: the judged ones worst first, then those under slice_min_rows.
    slices: list[SliceScore]
    # The champion's scores on the split (core/ml/metrics.py `scores`), when it scored.
    champion_scores: dict[str, float] | None

    def slice_table(self) -> pd.DataFrame:
        """The kept slices as a frame: slice, rows, rmse, and champion_rmse when the champion
        scored."""
        columns = ["slice", "rows", "rmse"]
        if self.champion_scores is not None:
            columns.append("champion_rmse")
        return pd.DataFrame(
            [[getattr(score, name) for name in columns] for score in self.slices],
            columns=columns,
        )

    def differences(
        self, model_uri: str, champion_version: int | None, limits: GateLimits
    ) -> dict[str, dict[str, Any]]:
        """What this judgement judged that differs from `model_uri` against `champion_version`
        under `limits`, by field, each as found here against expected; empty when the same."""
        found = {
            "model_uri": (self.model_uri, model_uri),
            "champion_version": (self.champion_version, champion_version),
            "limits": (self.limits.model_dump(mode="json"), limits.model_dump(mode="json")),
        }
        return {
            name: {"judged": judged, "expected": expected}
            for name, (judged, expected) in found.items()
            if judged != expected
        }


def kept_slices(table: pd.DataFrame, min_rows: int) -> list[SliceScore]:
    """The KEPT_SLICES of the slice table `judge` made that a judgement keeps: the judged ones
    (at least `min_rows` rows) worst first, then the others worst first."""
    small = table["rows"] < min_rows
    ordered = table.assign(_small=small).sort_values(
        ["_small", "rmse"], ascending=[True, False], kind="stable"
    )
    return [
        SliceScore(
            slice=_scalar(row["slice"]),
            rows=int(row["rows"]),
            rmse=float(row["rmse"]),
            champion_rmse=float(row["champion_rmse"]) if "champion_rmse" in row else None,
        )
        for row in ordered.head(KEPT_SLICES).to_dict("records")
    ]


def _scalar(value: Any) -> str | int | float | bool:
    """A slice value as a JSON scalar: numpy's as Python's, anything else as its text."""
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, str | int | float | bool) else str(value)


def judge(
    client: mlflow.MlflowClient,
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
        client: The MLflow client the models are read through.
        model_uri: The challenger's logged model.
        champion_uri: The champion's model, or None when there is none yet.
        test_x, test_y: This run's test split; both models are scored on it.
        slice_values: The slice each test row belongs to, aligned with test_x.
        limits: The configured tolerances and budgets.
        predictions: When given, filled with the predictions the gates made on test_x, under
            "challenger" and "champion" (each when that model predicted), for a caller that
            scores them: 20M rows are not predicted twice.
    """
    made = predictions if predictions is not None else {}
    challenger, outcomes = _served(client, model_uri, test_x, made)
    champion_schema = None if champion_uri is None else serving.input_schema(client, champion_uri)
    try:
        challenger_schema = serving.input_schema(client, model_uri)
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

    outcome, table = _against_champion(
        client, champion_uri, test_x, test_y, slice_values, made, limits.regression_tolerance
    )
    outcomes["no_regression_against_champion"] = outcome
    outcomes["worst_slice_within_limits"] = worst_slice_within_limits(
        table, limits.slice_min_rows, limits.slice_rmse_ceiling, limits.slice_tolerance
    )
    outcomes["latency_within_budget"] = _latency(challenger, test_x, limits)
    return outcomes, table


def _served(
    client: mlflow.MlflowClient, model_uri: str, test_x: pd.DataFrame, made: dict
) -> tuple[object, dict]:
    """The challenger as served (None when it cannot be), with the outcome of
    model_loads_and_predicts; its predictions go into `made`."""
    try:
        challenger = serving.load_pyfunc(client, model_uri)
        made["challenger"] = challenger.predict(test_x)
        outcome = GateOutcome(True, {"model_uri": model_uri, "rows": len(test_x)})
    except Exception as error:  # whatever stops a load or a prediction stops serving
        challenger = None
        outcome = GateOutcome(
            False,
            {"model_uri": model_uri, "error": f"{type(error).__name__}: {error}"[:2000]},
            f"{CANNOT_SERVE}: {type(error).__name__}",
        )
    return challenger, {"model_loads_and_predicts": outcome}


def _against_champion(
    client: mlflow.MlflowClient,
    champion_uri: str | None,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    slice_values: pd.Series,
    made: dict,
    tolerance: float,
) -> tuple[GateOutcome, pd.DataFrame]:
    """The outcome of no_regression_against_champion for the challenger's predictions in
    `made`, and the slice table, with the champion's RMSE per slice when it scored."""
    predicted = made["challenger"]
    table = slice_rmse(slice_values, test_y, predicted)
    rmse = _rmse(test_y, predicted)
    if champion_uri is None:
        return GateOutcome(True, {"challenger_rmse": rmse, "note": NO_CHAMPION}), table
    try:
        champion = serving.load_pyfunc(client, champion_uri)
        champion_predicted = made["champion"] = champion.predict(test_x)
    except Exception as error:  # e.g. the champion needs inputs this split lacks
        return GateOutcome(
            False,
            {"champion_uri": champion_uri, "error": f"{type(error).__name__}: {error}"[:2000]},
            "the champion cannot score this test split, so the challenger cannot be compared",
        ), table
    champion_table = slice_rmse(slice_values, test_y, champion_predicted)
    table = table.merge(
        champion_table[["slice", "rmse"]].rename(columns={"rmse": "champion_rmse"}), on="slice"
    )
    outcome = no_regression(rmse, _rmse(test_y, champion_predicted), tolerance)
    outcome.evidence["champion_uri"] = champion_uri
    return outcome, table


def _latency(challenger, test_x: pd.DataFrame, limits: GateLimits) -> GateOutcome:
    """The outcome of latency_within_budget on batches of the test rows."""
    # numpy's Generator draws the rows without shuffling them all, as pandas' sample does
    # (1.5 s of 20M test rows).
    batch = test_x.iloc[
        np.random.default_rng(0).choice(
            len(test_x),
            limits.latency_batch_rows,
            replace=len(test_x) < limits.latency_batch_rows,
        )
    ]
    return latency_within_budget(
        serving.p95_latency_ms(challenger, batch, limits.latency_repeats),
        limits.latency_budget_ms,
        len(batch),
    )


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
