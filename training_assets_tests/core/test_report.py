"""The model report's page: the verdict headline names the gates that stopped the model, the
scores stand beside the baseline and the champion, and the plots are embedded."""

import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from training_assets.core.ml.metrics import baseline_scores, scores
from training_assets.core.report import ReportInputs, Verdict, render, score_split


def inputs(verdicts, champion=None, psi=None, slices=None, slice_min_rows=0) -> ReportInputs:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 300).astype(float)
    return ReportInputs(
        title="m: model of run abc",
        subtitle="judged against champion version 3",
        verdicts=verdicts,
        metrics={
            "rmse": 0.46,
            "mae": 0.45,
            "r2": 0.1,
            "baseline_rmse": 0.5,
            "test_rows": 300,
            "auc": 0.71,
            "log_loss": 0.62,
            "brier": 0.21,
        },
        champion_metrics=champion,
        baseline_metrics=baseline_scores(pd.Series(truth), 0.5),
        slices=slices
        if slices is not None
        else pd.DataFrame({"slice": [7, 8], "rows": [40, 35], "rmse": [0.55, 0.41]}),
        truth=truth,
        predicted=np.clip(truth * 0.3 + rng.uniform(0.2, 0.5, 300), 0, 1),
        coefficients={"conv_rate": 0.12, "acc_rate": 0.07},
        psi=psi,
        slice_min_rows=slice_min_rows,
    )


def test_a_rejected_model_names_its_gates_with_their_figures():
    page = render(
        inputs(
            [
                Verdict("labels_are_binary", "training_data", True, False),
                Verdict(
                    "rmse_within_ceiling",
                    "evaluation",
                    False,
                    True,
                    "RMSE 0.46 above the ceiling 0.30",
                    {"rmse": 0.46, "ceiling": 0.3},
                ),
                Verdict("drift_within_limits", "training_data", False, False, "drift at warn"),
            ],
            champion={"rmse": 0.45, "mae": 0.44, "auc": 0.73},
            psi={"conv_rate": 0.12},
        )
    )

    assert "Rejected by rmse_within_ceiling" in page
    assert '<tr class="blocked"><td>rmse_within_ceiling' in page
    assert '<tr class="warned"><td>drift_within_limits' in page
    assert "ceiling: 0.3000" in page
    assert "<td>auc</td>" in page and "0.7300" in page  # the champion's AUC beside ours
    assert "conv_rate" in page and "0.1200" in page
    assert page.count("data:image/png;base64,") == 1


def test_a_model_that_passed_says_so_and_notes_there_is_no_champion():
    page = render(inputs([Verdict("rmse_within_ceiling", "evaluation", True, False)]))

    assert "Passed every gate" in page
    assert "Rejected" not in page
    assert "No champion yet" in page


def test_the_plots_are_drawn_without_importing_pyplot():
    # pyplot's import was half a second of every run; a figure that is only saved needs none.
    code = (
        "import sys\n"
        "from training_assets_tests.core.test_report import inputs, render, Verdict\n"
        "page = render(inputs([Verdict('rmse_within_ceiling', 'evaluation', True, False)]))\n"
        "assert page.count('data:image/png;base64,') == 1\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )

    assert run.stdout.strip() == "False"


def first_table(html: str) -> dict[str, list[str]]:
    """The first HTML table in `html`, as columns of cell texts."""

    class Cells(HTMLParser):
        rows: list[list[str]] = []
        done = False

        def handle_starttag(self, tag, attrs):
            if tag == "tr" and not self.done:
                self.rows.append([])
            if tag in ("td", "th") and not self.done:
                self.rows[-1].append("")

        def handle_endtag(self, tag):
            self.done = self.done or tag == "table"

        def handle_data(self, data):
            if self.rows and self.rows[-1] and not self.done:
                self.rows[-1][-1] += data.strip()

    parser = Cells()
    parser.rows = []
    parser.feed(html)
    header, *body = parser.rows
    return {name: [row[i] for row in body] for i, name in enumerate(header)}


def test_every_score_has_its_baseline_and_the_baseline_equals_scoring_the_mean():
    truth = pd.Series(np.random.default_rng(1).integers(0, 2, 500).astype(float))
    mean = 0.37
    expected = scores(np.full(len(truth), mean), truth, mean)

    baseline = baseline_scores(truth, mean)

    for name in ("rmse", "mae", "r2", "auc", "log_loss", "brier"):
        assert baseline[name] == pytest.approx(expected[name]), name
    page = render(inputs([Verdict("rmse_within_ceiling", "evaluation", True, False)]))
    table = first_table(page[page.index("<h2>Scores") :])
    assert all(cell != "" for cell in table["mean baseline"]), table


def test_slices_too_small_to_judge_come_after_the_judged_ones_and_say_so():
    slices = pd.DataFrame(
        {"slice": [1, 2, 3, 4], "rows": [3, 500, 2, 400], "rmse": [0.9, 0.4, 0.8, 0.5]}
    )
    page = render(
        inputs(
            [Verdict("worst_slice_within_limits", "evaluation", True, False)],
            None,
            None,
            slices,
            30,
        )
    )

    table = first_table(page[page.index("<h2>Slices") :])
    assert table["slice"] == ["4", "2", "1", "3"]
    assert list(table["judged"]) == ["yes", "yes", "no: under 30 rows", "no: under 30 rows"]


def test_figures_are_listed_not_printed_as_python_dicts():
    figures = {"failing_slices": [{"slice": 7, "rmse": 0.61234}], "psi": {"conv_rate": 0.25}}
    page = render(
        inputs([Verdict("worst_slice_within_limits", "evaluation", False, True, "bad", figures)])
    )

    assert "{" not in page[page.index("<h2>Gates") : page.index("<h2>Scores")]
    assert "<li>conv_rate: 0.2500</li>" in page
    assert "rmse: 0.6123" in page


def test_the_scores_are_the_models_own_beside_the_champions_the_judgement_recorded():
    from sklearn.linear_model import LinearRegression

    test_x = pd.DataFrame({"conv_rate": np.linspace(0, 1, 50)})
    test_y = pd.Series((test_x["conv_rate"] > 0.5).astype(float))
    model = LinearRegression().fit(test_x, test_y)
    champion = {"rmse": 0.49, "mae": 0.48}

    scored = score_split(model, test_x, test_y, 0.5, champion)

    assert scored.metrics == scores(model.predict(test_x), test_y, 0.5)
    assert scored.champion_metrics == champion
    assert scored.baseline_metrics == baseline_scores(test_y, 0.5)
    assert score_split(model, test_x, test_y, 0.5, None).champion_metrics is None


def test_the_champions_live_days_are_shown_beside_its_offline_rmse():
    from dataclasses import replace

    live = pd.DataFrame(
        {
            "day": ["2025-12-27", "2025-12-28"],
            "labelled_rows": [240, 251],
            "live_rmse": [0.4712, 0.5521],
            "offline_rmse": [0.4655, 0.4655],
            "within_tolerance": [True, False],
        }
    )
    shown = render(replace(inputs([]), champion_live=live, champion_version=3))
    assert "The champion (version 3) live, per day of requests" in shown
    assert "<td>2025-12-28</td>" in shown and "0.5521" in shown and "0.4655" in shown

    waiting = render(replace(inputs([]), champion_live=live.iloc[:0], champion_version=3))
    assert "No day of live quality has been judged for it yet" in waiting
    # No champion, no section: there is nothing live to show.
    assert "live, per day" not in render(inputs([]))
