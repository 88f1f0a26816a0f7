"""The model report: one self-contained HTML page per trained model that answers "is this model
better, and where is it worse?" without a notebook.

It shows the gates' verdicts with their figures, the scores against the mean baseline and the
champion, per-slice RMSE beside the champion's, calibration and predicted-against-observed
plots (scikit-learn's calibration curve), the coefficients and the drift of each feature.
Plots are embedded as PNG, so the page opens from an MLflow artifact or a file alike.

Neither ML nor a gate: it shows both, so it sits above core/ml and core/gates, which never
import it (the import contract in pyproject.toml).
"""

import base64
import html
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training_assets.core.gates import catalog
from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.ml.metrics import baseline_scores, probabilities, scores


@dataclass(frozen=True)
class Verdict:
    """One gate's verdict as the report shows it."""

    gate: str
    asset: str
    passed: bool
    blocks: bool
    reason: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportInputs:
    """Everything the page shows; built by the caller from the run's own results."""

    title: str
    subtitle: str
    verdicts: list[Verdict]
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    baseline_metrics: dict[str, float]
    slices: pd.DataFrame  # slice, rows, rmse, and champion_rmse when there is a champion
    truth: np.ndarray
    predicted: np.ndarray
    coefficients: dict[str, float]
    psi: dict[str, float] | None
    slice_min_rows: int = 0  # smaller slices are shown but not judged by the slice gate
    # The champion's live quality per day of requests (day, labelled_rows, live_rmse,
    # offline_rmse, ...), oldest first; None when there is no champion to show.
    champion_live: pd.DataFrame | None = None
    champion_version: int | None = None


@dataclass(frozen=True)
class SplitScores:
    """The challenger's predictions on the test split and the scores the report shows."""

    predicted: np.ndarray
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    baseline_metrics: dict[str, float] = field(default_factory=dict)


def score_split(
    model: Any,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    train_mean: float,
    champion_scores: dict[str, float] | None,
) -> SplitScores:
    """The fitted `model`'s predictions on the test split and their scores, beside the
    champion's scores that the champion gates' judgement recorded (None: no champion, or it
    could not score the split)."""
    predicted = model.predict(test_x)
    return SplitScores(
        predicted=predicted,
        metrics=scores(predicted, test_y, train_mean),
        champion_metrics=champion_scores,
        baseline_metrics=baseline_scores(test_y, train_mean),
    )


def page(
    title: str,
    run_id: str,
    champion_version: int | None,
    verdicts: list[Verdict],
    scored: SplitScores,
    slices: pd.DataFrame,
    truth: np.ndarray,
    coefficients: dict[str, float],
    slice_min_rows: int = 0,
    champion_live: pd.DataFrame | None = None,
) -> str:
    """The report of the model logged in the MLflow run `run_id`, judged by `verdicts`;
    slices under `slice_min_rows` rows are listed after the judged ones, marked so; with the
    champion's live quality per day when there is a champion (`champion_live`)."""
    psi = next((v.figures.get("psi") for v in verdicts if v.gate == catalog.DRIFT_GATE.name), None)
    judged_against = (
        f"champion version {champion_version}" if champion_version else "no champion yet"
    )
    return render(
        ReportInputs(
            title=title,
            subtitle=f"MLflow run {run_id}; judged against {judged_against}",
            verdicts=verdicts,
            metrics=scored.metrics,
            champion_metrics=scored.champion_metrics,
            baseline_metrics=scored.baseline_metrics,
            slices=slices,
            truth=truth,
            predicted=scored.predicted,
            coefficients=coefficients,
            psi=psi if isinstance(psi, dict) else None,
            slice_min_rows=slice_min_rows,
            champion_live=champion_live if champion_version else None,
            champion_version=champion_version,
        )
    )


def blocking(verdicts: list[Verdict]) -> list[str]:
    """The gates among `verdicts` that hold back registration."""
    return [verdict.gate for verdict in verdicts if verdict.blocks]


def gate_verdicts(outcomes: dict[str, GateOutcome]) -> list[Verdict]:
    """The verdicts of gates judged by their catalog functions, by gate name."""
    return [
        Verdict(
            gate=name,
            asset=catalog.GATES_BY_NAME[name].asset,
            passed=outcome.passed,
            blocks=catalog.blocks(name, outcome),
            reason=outcome.description,
            figures=outcome.evidence,
        )
        for name, outcome in outcomes.items()
    ]


def render(inputs: ReportInputs) -> str:
    """The report as one HTML document."""
    failed = blocking(inputs.verdicts)
    headline = (
        f"Rejected by {', '.join(failed)}"
        if failed
        else "Passed every gate"
        if inputs.verdicts
        else "No gate verdicts"
    )
    sections = [
        f"<h1>{_e(inputs.title)}</h1><p>{_e(inputs.subtitle)}</p>",
        f'<p class="{"bad" if failed else "good"}"><b>{_e(headline)}</b></p>',
        "<h2>Gates</h2>" + _verdicts(inputs.verdicts),
        "<h2>Scores</h2>"
        + _scores(inputs.metrics, inputs.baseline_metrics, inputs.champion_metrics),
        "<h2>Slices (judged, worst first; then those too small to judge)</h2>"
        + _table(_slices(inputs.slices, inputs.slice_min_rows).head(25)),
        "<h2>Calibration and predicted against observed</h2>" + _plots(inputs),
        "<h2>Coefficients</h2>"
        + _table(
            pd.DataFrame(
                {
                    "input": list(inputs.coefficients),
                    "coefficient": list(inputs.coefficients.values()),
                }
            )
        ),
        "<h2>Drift against the champion's training data (PSI)</h2>"
        + (
            _table(pd.DataFrame({"feature": list(inputs.psi), "psi": list(inputs.psi.values())}))
            if inputs.psi
            else "<p>No champion yet, or no drift figures: nothing to compare against.</p>"
        ),
    ]
    if inputs.champion_version:
        sections.append(_champion_live(inputs.champion_live, inputs.champion_version))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(inputs.title)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>"
    )


def _champion_live(live: pd.DataFrame | None, version: int) -> str:
    """The champion's days of live quality: what it did on the requests it answered, beside
    its offline test RMSE, the evidence behind a live retrain or a shadow promotion."""
    title = f"<h2>The champion (version {version}) live, per day of requests</h2>"
    if live is None or live.empty:
        return title + (
            "<p>No day of live quality has been judged for it yet: score requests "
            "(batch_predictions) and let their labels arrive (live_model_quality).</p>"
        )
    return title + _table(live)


def _verdicts(verdicts: list[Verdict]) -> str:
    rows = []
    for v in verdicts:
        state = "blocked" if v.blocks else "passed" if v.passed else "warned"
        rows.append(
            f'<tr class="{state}"><td>{_e(v.gate)}</td><td>{_e(v.asset)}</td>'
            f"<td>{state}</td><td>{_e(v.reason)}</td><td>{_figures(v.figures)}</td></tr>"
        )
    return (
        "<table><tr><th>gate</th><th>asset</th><th>verdict</th><th>why</th><th>figures</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _slices(slices: pd.DataFrame, min_rows: int) -> pd.DataFrame:
    """The slice table with a `judged` column: the slices the gate judged, worst first, then
    the ones under `min_rows` rows, which it did not judge."""
    judged = slices["rows"] >= min_rows
    table = slices.assign(
        judged=np.where(judged, "yes", f"no: under {min_rows} rows"), _small=~judged
    )
    table = table.sort_values(["_small", "rmse"], ascending=[True, False], kind="stable")
    return table.drop(columns="_small")


def _scores(
    metrics: dict[str, float], baseline: dict[str, float], champion: dict[str, float] | None
) -> str:
    names = [n for n in ("rmse", "mae", "r2", "auc", "log_loss", "brier") if n in metrics]
    frame = pd.DataFrame(
        {
            "metric": names,
            "this model": [metrics[n] for n in names],
            "mean baseline": [baseline.get(n) for n in names],
            "champion": [None if champion is None else champion.get(n) for n in names],
        }
    )
    return _table(frame) + f"<p>{int(metrics.get('test_rows', 0))} test rows.</p>"


def _plots(inputs: ReportInputs) -> str:
    # matplotlib's object API, not pyplot (nor scikit-learn's displays, which import it): a
    # figure that is only saved needs no backend, and importing pyplot took 0.5 to 0.9 s of
    # every run. The calibration curve is scikit-learn's.
    from matplotlib.figure import Figure
    from sklearn.calibration import calibration_curve

    truth = np.asarray(inputs.truth, dtype=float)
    predicted = np.asarray(inputs.predicted, dtype=float)
    figure = Figure(figsize=(11, 4.5))
    left, right = figure.subplots(1, 2)
    if np.isin(truth, (0.0, 1.0)).all() and len(np.unique(truth)) == 2:
        observed, mean_predicted = calibration_curve(
            truth, probabilities(predicted), n_bins=10, strategy="quantile"
        )
        left.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
        left.plot(mean_predicted, observed, "s-", label="this model")
        left.set(
            xlabel="Mean predicted probability (positive class: 1)",
            ylabel="Fraction of positives (positive class: 1)",
            title="Calibration (predictions clipped to [0, 1])",
        )
        left.legend(loc="lower right")
    else:
        left.set_axis_off()
        left.set_title("Calibration: the label is not 0/1")
    # At most 2,000 points, the same ones every run.
    shown = np.random.default_rng(0).choice(len(truth), min(len(truth), 2000), replace=False)
    both = np.concatenate([truth, predicted])
    low, high = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
    right.plot([low, high], [low, high], "k--", label="predicted = observed")
    right.scatter(predicted[shown], truth[shown], s=8, alpha=0.5)
    right.set(
        xlabel="Predicted values",
        ylabel="Actual values",
        title="Observed against predicted",
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    alt = "calibration and predicted against observed"
    return f'<img alt="{alt}" src="data:image/png;base64,{encoded}">'


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="", border=0)


def _figures(figures: dict[str, Any]) -> str:
    """A gate's figures as a list, nested ones as nested lists: never Python's dict text."""
    if not figures:
        return ""
    return "<ul>" + "".join(f"<li>{_e(k)}: {_figure(v)}</li>" for k, v in figures.items()) + "</ul>"


def _figure(value: Any, depth: int = 0) -> str:
    if isinstance(value, dict) and depth < 2:
        return (
            "<ul>"
            + "".join(
                f"<li>{_e(k)}: {_figure(v, depth + 1)}</li>" for k, v in list(value.items())[:20]
            )
            + "</ul>"
        )
    if isinstance(value, list | tuple) and depth < 2:
        shown = ", ".join(_figure(v, depth + 1) for v in value[:10])
        return f"[{shown}{', ...' if len(value) > 10 else ''}]"
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value)
    return _e(text if len(text) <= 200 else text[:197] + "...")


def _e(text: str) -> str:
    return html.escape(str(text))


_STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 1100px; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; font-size: 90%; }
tr.blocked td { background: #fde2e2; } tr.warned td { background: #fff4d6; }
.bad { color: #a40000; } .good { color: #1a6d1a; }
"""
