"""Live quality: the scores of each model version on its labelled rows, against scikit-learn's
own implementations; the paired comparison and its interval; the drift of served features."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, log_loss, mean_absolute_error, roc_auc_score

from training_assets.core.ml.drift import feature_profile
from training_assets.core.monitoring.quality import (
    LiveQuality,
    compare,
    model_quality,
    of_model,
    paired_comparisons,
    served_drift,
    served_features,
)


def outcomes(
    n=2000, seed=0, challenger_noise=None, labelled_share=0.8, previous_noise=None
) -> pd.DataFrame:
    """A day's outcomes: the champion's answers, and in shadow a challenger whose error is
    `challenger_noise` and the champion before this one (version 0) whose error is
    `previous_noise` (None: no such shadow)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    label = (rng.uniform(0, 1, n) < x).astype(float)
    labelled = rng.uniform(0, 1, n) < labelled_share
    times = pd.Timestamp("2025-12-11", tz="UTC") + pd.to_timedelta(rng.integers(0, 86400, n), "s")
    base = pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(n)],
            "source": "batch",
            "writer": "batch-run-1",
            "scored_at": pd.Timestamp("2026-01-02", tz="UTC"),
            "driver_id": rng.integers(1001, 1050, n),
            "event_timestamp": times,
            "model_name": "m",
            "features": [json.dumps({"conv_rate": float(v)}) for v in x],
            "features_found": True,
            "trip_completed": np.where(labelled, label, np.nan),
            "labelled": labelled,
        }
    )
    champion = base.assign(role="champion", model_version=1, prediction=x * 0.9 + 0.05)
    parts = [champion]
    if challenger_noise is not None:
        guess = np.clip(x + rng.normal(0, challenger_noise, n), 0, 1)
        parts.append(
            base.assign(
                prediction_id=[f"s{i}" for i in range(n)],
                role="challenger",
                model_version=2,
                prediction=guess,
            )
        )
    if previous_noise is not None:
        guess = np.clip(x + rng.normal(0, previous_noise, n), 0, 1)
        parts.append(
            base.assign(
                prediction_id=[f"q{i}" for i in range(n)],
                role="previous",
                model_version=0,
                prediction=guess,
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_scores_are_those_of_scikit_learn_on_the_labelled_rows():
    frame = outcomes()
    [champion] = model_quality(frame)
    rows = frame[frame["labelled"]]
    truth, predicted = rows["trip_completed"], rows["prediction"]

    assert champion.role == "champion" and champion.model_version == 1
    assert (champion.rows, champion.labelled_rows) == (len(frame), len(rows))
    assert champion.label_rate == pytest.approx(truth.mean())
    assert champion.mean_prediction == pytest.approx(frame["prediction"].mean())
    assert champion.rmse == pytest.approx(np.sqrt(np.mean((truth - predicted) ** 2)))
    assert champion.mae == pytest.approx(mean_absolute_error(truth, predicted))
    assert champion.auc == pytest.approx(roc_auc_score(truth, predicted))
    assert champion.brier == pytest.approx(brier_score_loss(truth, predicted))
    assert champion.log_loss == pytest.approx(log_loss(truth, predicted))


def test_a_model_without_labels_yet_has_counts_and_no_scores():
    frame = outcomes(labelled_share=0.0)
    [champion] = model_quality(frame)
    assert champion.labelled_rows == 0 and champion.rows == len(frame)
    assert champion.rmse is None and champion.label_rate is None
    assert champion.mean_prediction is not None


def test_a_better_challenger_has_an_interval_above_zero_and_a_worse_one_below():
    better = outcomes(challenger_noise=0.0)  # it predicts the true probability
    worse = outcomes(challenger_noise=0.45)
    [up] = paired_comparisons(better)
    [down] = paired_comparisons(worse)
    assert (up.champion_version, up.challenger_version) == (1, 2)
    assert up.paired_rows == int(better["labelled"].sum()) // 2
    assert 0 < up.gain_low <= up.rmse_gain <= up.gain_high
    assert down.gain_low <= down.rmse_gain <= down.gain_high < 0


def test_the_champion_it_replaced_is_compared_on_the_same_rows_under_its_own_role():
    frame = outcomes(challenger_noise=0.45, previous_noise=0.0)
    worse, better = paired_comparisons(frame)
    assert (worse.shadow_role, worse.challenger_version) == ("challenger", 2)
    assert (better.shadow_role, better.challenger_version) == ("previous", 0)
    assert better.champion_version == worse.champion_version == 1
    assert better.paired_rows == worse.paired_rows == int(frame["labelled"].sum()) // 3
    # The previous champion predicts the true probability: it did better than the champion.
    assert 0 < better.gain_low
    assert worse.gain_high < 0


def test_the_same_model_in_shadow_gains_nothing():
    errors = np.random.default_rng(3).uniform(0, 1, 500)
    same = compare(1, 2, errors, errors.copy())
    assert same.rmse_gain == 0 and same.gain_low == 0 and same.gain_high == 0
    # Two rows are too few for an interval to mean anything, one is none.
    assert compare(1, 2, errors[:1], errors[:1]).gain_low is None


def test_the_interval_covers_zero_for_two_equally_good_models_most_days():
    covered = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        truth = (rng.uniform(0, 1, 300) < 0.5).astype(float)
        a = np.clip(0.5 + rng.normal(0, 0.1, 300), 0, 1)
        b = np.clip(0.5 + rng.normal(0, 0.1, 300), 0, 1)
        result = compare(1, 2, (a - truth) ** 2, (b - truth) ** 2, samples=400, seed=seed)
        covered += result.gain_low <= 0 <= result.gain_high
    assert covered >= 36


def test_served_features_drift_from_the_training_profile():
    rng = np.random.default_rng(1)
    profile = feature_profile(pd.DataFrame({"conv_rate": rng.uniform(0, 1, 5000)}), ["conv_rate"])
    steady, moved = outcomes(seed=4), outcomes(seed=5)
    moved["features"] = [
        json.dumps({"conv_rate": 0.9 + 0.1 * v}) for v in rng.uniform(0, 1, len(moved))
    ]

    steady_psi = served_drift(profile, served_features(steady, "champion", 1))
    moved_psi = served_drift(profile, served_features(moved, "champion", 1))

    assert steady_psi["conv_rate"] < 0.05
    assert moved_psi["conv_rate"] > 1.0
    assert served_features(steady, "challenger", 2).empty


def test_the_champion_is_the_version_that_answered_most_labelled_rows():
    frame = outcomes()
    frame.loc[frame.index[:10], "model_version"] = 7  # the alias moved late in the day
    quality = LiveQuality("2025-12-11", model_quality(frame), [])
    assert quality.champion().model_version == 1
    assert {m.model_version for m in quality.models} == {1, 7}


def test_a_day_rescored_after_a_move_pairs_each_shadow_with_its_own_runs_champion():
    """Run 1 answered with version 1; after version 2 became champion, run 2 rescored the same
    requests with version 2 and version 1 in shadow. Version 1's shadow scores are compared
    with version 2's answers, never with its own earlier ones."""
    first = outcomes(seed=4).assign(writer="batch-run-1")
    second = outcomes(seed=4, previous_noise=0.0).assign(writer="batch-run-2")
    second.loc[second["role"] == "champion", "model_version"] = 2
    second.loc[second["role"] == "previous", "model_version"] = 1
    second.loc[second["role"] == "champion", "prediction"] = 0.5  # version 2 knows nothing

    [compared] = paired_comparisons(pd.concat([first, second], ignore_index=True))

    assert (compared.shadow_role, compared.champion_version, compared.challenger_version) == (
        "previous",
        2,
        1,
    )
    assert compared.paired_rows == int(second["labelled"].sum()) // 2
    assert compared.gain_low > 0  # version 1, the one it replaced, did better


def test_another_models_answers_are_left_out_of_this_models_quality():
    ours = outcomes(seed=5)
    other = outcomes(seed=6).assign(model_name="other", prediction=0.99)
    kept = of_model(pd.concat([ours, other], ignore_index=True), "m")
    assert len(kept) == len(ours)
    [champion] = model_quality(kept)
    assert champion.rmse == pytest.approx(model_quality(ours)[0].rmse)


def test_a_shadow_whose_runs_answer_was_rescored_is_paired_with_the_latest_answer():
    """Run 1 scored champion version 1 and challenger version 2; run 2 rescored the day with
    version 1 alone (the challenger alias was gone). Version 1's answers are now run 2's, and
    version 2's shadow scores are still compared with them."""
    first = outcomes(seed=8, challenger_noise=0.0).assign(writer="batch-run-1")
    answered_again = first[first["role"] == "champion"].assign(
        writer="batch-run-2", scored_at=pd.Timestamp("2026-01-03", tz="UTC")
    )
    latest = pd.concat([first[first["role"] == "challenger"], answered_again], ignore_index=True)

    [compared] = paired_comparisons(latest)

    assert (compared.champion_version, compared.challenger_version) == (1, 2)
    assert compared.paired_rows == int(latest["labelled"].sum()) // 2
    assert compared.scored_from == "2026-01-02T00:00:00+00:00"


def test_outcomes_stored_before_the_writer_was_kept_are_still_compared():
    frame = outcomes(seed=9, challenger_noise=0.0).drop(columns="writer")
    [compared] = paired_comparisons(frame)
    assert compared.paired_rows == int(frame["labelled"].sum()) // 2
