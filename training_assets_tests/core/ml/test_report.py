"""The model report's page: the verdict headline names the gates that stopped the model, the
scores stand beside the baseline and the champion, and the plots are embedded."""

import subprocess
import sys

import numpy as np
import pandas as pd

from training_assets.core.ml.report import ReportInputs, Verdict, render


def inputs(verdicts, champion=None, psi=None) -> ReportInputs:
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
        slices=pd.DataFrame({"slice": [7, 8], "rows": [40, 35], "rmse": [0.55, 0.41]}),
        truth=truth,
        predicted=np.clip(truth * 0.3 + rng.uniform(0.2, 0.5, 300), 0, 1),
        coefficients={"conv_rate": 0.12, "acc_rate": 0.07},
        psi=psi,
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
        "from training_assets_tests.core.ml.test_report import inputs, render, Verdict\n"
        "page = render(inputs([Verdict('rmse_within_ceiling', 'evaluation', True, False)]))\n"
        "assert page.count('data:image/png;base64,') == 1\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )

    assert run.stdout.strip() == "False"
