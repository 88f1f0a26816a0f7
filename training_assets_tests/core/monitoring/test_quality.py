"""Live quality: the scores of each model version on its labelled rows, against scikit-learn's
own implementations; the paired comparison and its interval; the drift of served features."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import brier_score_loss, log_loss, mean_absolute_error, roc_auc_score

from training_assets.core.ml import metrics
from training_assets.core.ml.drift import feature_profile
from training_assets.core.monitoring.quality import (
    LiveQuality,
    _bootstrap_interval,
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


def logged(frame: pd.DataFrame) -> pd.DataFrame:
    """The logged rows the outcomes `frame` came from, numbered as a writer numbers them."""
    return frame.assign(sequence=np.arange(1, len(frame) + 1))


def test_served_features_drift_from_the_training_profile():
    rng = np.random.default_rng(1)
    profile = feature_profile(pd.DataFrame({"conv_rate": rng.uniform(0, 1, 5000)}), ["conv_rate"])
    steady, moved = outcomes(seed=4), outcomes(seed=5)
    moved["features"] = [
        json.dumps({"conv_rate": 0.9 + 0.1 * v}) for v in rng.uniform(0, 1, len(moved))
    ]

    steady_psi = served_drift(profile, served_features(logged(steady), "champion", 1))
    moved_psi = served_drift(profile, served_features(logged(moved), "champion", 1))

    assert steady_psi["conv_rate"] < 0.05
    assert moved_psi["conv_rate"] > 1.0
    assert served_features(logged(steady), "challenger", 2).empty


def test_served_features_are_read_from_the_log_one_row_per_prediction():
    """The outcomes no longer hold the features: they are read from the day's log, each
    prediction's latest score only, as the outcomes keep it."""
    day = outcomes(n=50, seed=2)
    rescored = day.assign(
        scored_at=pd.Timestamp("2026-01-03", tz="UTC"),
        features=json.dumps({"conv_rate": 0.25}),
    )
    log = pa.Table.from_pandas(logged(pd.concat([day, rescored])), preserve_index=False)

    served = served_features(log, "champion", 1)

    assert len(served) == len(day)
    assert (served["conv_rate"] == 0.25).all()


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


def test_scores_leave_out_the_labelled_rows_without_a_prediction():
    """A request whose features were not found has no prediction: it counts among the
    labelled rows, and is left out of the scores (which were NaN)."""
    frame = outcomes(seed=11)
    frame.loc[frame.index[:40], "prediction"] = np.nan
    [champion] = model_quality(frame)
    rows = frame[frame["labelled"] & frame["prediction"].notna()]
    assert champion.labelled_rows == int(frame["labelled"].sum())
    assert champion.rmse == pytest.approx(
        np.sqrt(np.mean((rows["trip_completed"] - rows["prediction"]) ** 2))
    )
    assert champion.auc == pytest.approx(roc_auc_score(rows["trip_completed"], rows["prediction"]))
    assert champion.mean_prediction == pytest.approx(frame["prediction"].mean())


@pytest.mark.parametrize("seed", range(5))
def test_scores_with_ties_and_gaps_are_those_of_the_offline_metrics_and_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    frame = outcomes(n=3000, seed=seed, challenger_noise=0.2)
    # Ties (predictions on a coarse grid, some beyond [0, 1] for the clipping), rows without
    # a prediction, and an unlabelled share.
    frame["prediction"] = np.round(rng.uniform(-0.1, 1.1, len(frame)), 1)
    frame.loc[rng.uniform(0, 1, len(frame)) < 0.05, "prediction"] = np.nan
    for model in model_quality(pa.Table.from_pandas(frame, preserve_index=False)):
        rows = frame[
            (frame["role"] == model.role)
            & (frame["model_version"] == model.model_version)
            & frame["labelled"]
            & frame["prediction"].notna()
        ]
        truth, predicted = rows["trip_completed"].to_numpy(), rows["prediction"].to_numpy()
        clipped = metrics.probabilities(predicted)
        expected = metrics.probability_metrics(pd.Series(truth), predicted)
        assert model.auc == pytest.approx(roc_auc_score(truth, clipped), abs=1e-12)
        assert model.auc == pytest.approx(expected["auc"], abs=1e-12)
        assert model.brier == pytest.approx(brier_score_loss(truth, clipped), abs=1e-12)
        assert model.log_loss == pytest.approx(log_loss(truth, clipped), abs=1e-12)
        assert model.log_loss == pytest.approx(expected["log_loss"], abs=1e-12)
        assert model.rmse == pytest.approx(np.sqrt(np.mean((predicted - truth) ** 2)))


def test_a_label_that_is_not_zero_or_one_leaves_the_probability_scores_out():
    frame = outcomes(seed=12)
    frame.loc[frame["labelled"], "trip_completed"] = 2.0
    [champion] = model_quality(frame)
    assert champion.rmse is not None
    assert champion.auc is None and champion.brier is None and champion.log_loss is None


def test_arrow_outcomes_and_their_frame_have_the_same_quality():
    frame = outcomes(seed=13, challenger_noise=0.1, previous_noise=0.3)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    assert model_quality(table) == model_quality(frame)
    assert paired_comparisons(table, 200, seed=4) == paired_comparisons(frame, 200, seed=4)
    assert of_model(table, "m").num_rows == len(of_model(frame, "m"))


def test_the_same_seed_gives_the_same_interval():
    frame = outcomes(n=5000, seed=14, challenger_noise=0.1)
    assert paired_comparisons(frame, 300, seed=9) == paired_comparisons(frame, 300, seed=9)
    assert paired_comparisons(frame, 300, seed=9) != paired_comparisons(frame, 300, seed=10)


def paired_errors(rng, rows):
    """Squared errors of two models on a continuous target: the champion's noise 0.3, the
    challenger's 0.2, so the true RMSE gain is 0.1."""
    truth = rng.uniform(0, 1, rows)
    champion = (truth + rng.normal(0, 0.3, rows) - truth) ** 2
    challenger = (truth + rng.normal(0, 0.2, rows) - truth) ** 2
    return champion, challenger


def test_the_grouped_bootstrap_agrees_with_the_row_bootstrap():
    """Past BOOTSTRAP_GROUPS rows, the rows are resampled in groups: the interval is that of
    resampling each row (each row its own group) within a small share of its width."""
    for seed in range(3):
        champion, challenger = paired_errors(np.random.default_rng(seed), 20_000)
        low, high = _bootstrap_interval(champion, challenger, 1000, seed)
        row_low, row_high = _bootstrap_interval(champion, challenger, 1000, seed, groups=20_000)
        width = row_high - row_low
        assert abs(low - row_low) < 0.15 * width
        assert abs(high - row_high) < 0.15 * width


def test_the_grouped_bootstrap_covers_the_true_gain_and_every_row_counts():
    covered = 0
    for seed in range(20):
        champion, challenger = paired_errors(np.random.default_rng(100 + seed), 200_000)
        result = compare(1, 2, champion, challenger, seed=seed)
        covered += result.gain_low <= 0.1 <= result.gain_high
        # Every row counts: the interval is as narrow as 200,000 rows make it (about 0.0023
        # wide here; on the 50,000 rows the bootstrap used to subsample, twice that).
        assert result.gain_high - result.gain_low < 0.0032
    assert covered >= 17
