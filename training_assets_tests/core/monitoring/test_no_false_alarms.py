"""The live defaults keep a steady world quiet and still see a changed one.

The world is drawn here with its own logistic relation (not the pipeline's sample generator),
and a model fit on it by scikit-learn's LogisticRegression stands for the champion; a second
fit on other rows is a challenger of the same quality. Eight weeks of daily labelled rows at
the sample's rate must neither fail the champion's live gate (which requests a retrain) nor
satisfy the shadow rule (which moves @champion); the same weeks after the relation changes
must fail the gate within days. The same two models, the second scored as the champion the
first replaced, must not satisfy the rollback rule either.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from training_assets.core.gates.catalog import evaluate_live_gates
from training_assets.core.gates.limits import GateLimits
from training_assets.core.monitoring.quality import (
    LiveQuality,
    model_quality,
    paired_comparisons,
)

LIMITS = GateLimits()
ROWS_PER_DAY = 240  # the sample's 5,000 orders over 21 days
WEEKS = 8


def world(rng, n, weights=(3.0, 2.0, -1.0)):
    x = rng.uniform(0, 1, (n, 3))
    logit = (x - 0.5) @ np.asarray(weights)
    return x, (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))).astype(float)


def fitted(rng):
    x, y = world(rng, 5000)
    return LogisticRegression().fit(x, y)


def day(rng, champion, challenger, weights, shadow_role="challenger") -> pd.DataFrame:
    x, y = world(rng, ROWS_PER_DAY, weights)
    times = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(y)), "s")
    base = pd.DataFrame(
        {
            "source": "batch",
            "writer": "batch-run-1",
            "scored_at": pd.Timestamp("2026-01-02", tz="UTC"),
            "driver_id": np.arange(len(y)),
            "event_timestamp": times,
            "features": "{}",
            "trip_completed": y,
            "labelled": True,
        }
    )
    return pd.concat(
        [
            base.assign(
                role="champion", model_version=1, prediction=champion.predict_proba(x)[:, 1]
            ),
            base.assign(
                role=shadow_role, model_version=2, prediction=challenger.predict_proba(x)[:, 1]
            ),
        ],
        ignore_index=True,
    )


def judged_days(seed, weights_of_day, shadow_role="challenger"):
    rng = np.random.default_rng(seed)
    champion, challenger = fitted(rng), fitted(rng)
    test_x, test_y = world(rng, 2000)
    offline = float(np.sqrt(np.mean((champion.predict_proba(test_x)[:, 1] - test_y) ** 2)))
    for index in range(WEEKS * 7):
        outcomes = day(rng, champion, challenger, weights_of_day(index), shadow_role)
        models = [
            replace(m, offline_rmse=offline) if m.role == "champion" else m
            for m in model_quality(outcomes)
        ]
        comparisons = paired_comparisons(outcomes, LIMITS.bootstrap_samples, seed=index)
        quality = LiveQuality(str(index), models, comparisons)
        yield quality, evaluate_live_gates(quality, LIMITS)


def promoted(days) -> bool:
    """The shadow rule: the latest shadow_min_days compared days all above zero. With the
    other model scored as the champion this one replaced, the same rule rolls back."""
    run = 0
    for quality, _ in days:
        [comparison] = quality.comparisons
        run = run + 1 if comparison.gain_low > 0 else 0
        if run >= LIMITS.shadow_min_days:
            return True
    return False


def test_a_steady_world_requests_no_retrain_and_moves_no_alias_over_eight_weeks():
    for seed in range(3):
        days = list(judged_days(seed, lambda _: (3.0, 2.0, -1.0)))
        failed = [
            quality.day
            for quality, verdicts in days
            if not verdicts["champion_live_rmse_within_tolerance"].passed
        ]
        assert failed == [], f"seed {seed}: the champion's gate failed on days {failed}"
        assert all(v["champion_live_rmse_within_tolerance"].evidence["judged"] for _, v in days)
        assert not promoted(days), f"seed {seed}: an equal challenger would have been promoted"
        # The same two models, the second as the champion the first replaced: no rollback.
        days = list(judged_days(seed, lambda _: (3.0, 2.0, -1.0), shadow_role="previous"))
        assert all(
            [c.shadow_role for c in quality.comparisons] == ["previous"] for quality, _ in days
        )
        assert not promoted(days), f"seed {seed}: an equal champion would have been rolled back"


def test_a_world_whose_relation_turns_fails_the_champion_within_days():
    # From day 28 the first feature works the other way.
    turned = judged_days(7, lambda index: (3.0, 2.0, -1.0) if index < 28 else (-3.0, 2.0, -1.0))
    failed = [
        int(quality.day)
        for quality, verdicts in turned
        if not verdicts["champion_live_rmse_within_tolerance"].passed
    ]
    assert failed and min(failed) >= 28 and min(failed) <= 30
