"""Live quality: how each model that scored a day did on the rows whose labels arrived, the
challenger against the champion on the same rows, and the drift of the features it was served.

The scores are core/ml/metrics.py's, read the same way as offline: RMSE and MAE of the
regression, and AUC, Brier score and log loss of its output read as a probability.
"""

import dataclasses
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training_assets.core.ml import drift, metrics
from training_assets.core.monitoring.outcomes import LABELLED
from training_assets.core.monitoring.prediction_log import CHALLENGER, CHAMPION, SHADOW_ROLES
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL

# Pairs beyond this many are subsampled for the bootstrap: its interval is then a little wider
# than the full day's would be, never narrower.
BOOTSTRAP_MAX_ROWS = 50_000
_BOOTSTRAP_CHUNK = 50
# A shadow score and the answer it is compared with: the same request, scored by the same run
# or server (`writer`) when that run's answer is still the latest. A day rescored after the
# champion moved holds both champions' answers to each request; each shadow is paired with the
# champion of its own scoring. A shadow whose run's answer was replaced by a later scoring
# (a rescore without the shadow) is paired with the latest answer to the same request.
REQUEST = ["source", ENTITY_KEY, EVENT_TIMESTAMP]
PAIR_KEY = [*REQUEST, "writer"]
SCORES = ("rmse", "mae", "auc", "brier", "log_loss")


@dataclass(frozen=True)
class ModelQuality:
    """One model version's day in one part (the champion's answers, or shadow scores)."""

    role: str
    model_version: int
    rows: int
    labelled_rows: int
    label_rate: float | None
    mean_prediction: float | None
    rmse: float | None = None
    mae: float | None = None
    auc: float | None = None
    brier: float | None = None
    log_loss: float | None = None
    offline_rmse: float | None = None
    served_rows: int = 0
    served_psi: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PairedComparison:
    """A version scored in shadow against the champion on the same labelled requests: the RMSE
    gain (champion's minus the shadow's; above zero, the shadow did better) with a bootstrap
    95% interval. The shadow is the challenger, or (`shadow_role` "previous") the champion
    that the current one replaced; `challenger_version` is the shadow's version either way."""

    champion_version: int
    challenger_version: int
    paired_rows: int
    champion_rmse: float | None = None
    challenger_rmse: float | None = None
    rmse_gain: float | None = None
    gain_low: float | None = None
    gain_high: float | None = None
    shadow_role: str = CHALLENGER
    # When the earliest of the paired shadow scores was scored (ISO, UTC): evidence about the
    # champion as it is now only if scored since it became champion.
    scored_from: str | None = None


@dataclass(frozen=True)
class LiveQuality:
    """A day's live quality, per model version, and the paired comparisons."""

    day: str
    models: list[ModelQuality]
    comparisons: list[PairedComparison]

    def champion(self) -> ModelQuality | None:
        """The champion version that answered most of the day's labelled rows."""
        answers = [model for model in self.models if model.role == CHAMPION]
        return max(answers, key=lambda m: (m.labelled_rows, m.rows), default=None)


def scores(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """RMSE and MAE, and for 0/1 labels with both classes AUC, Brier score and log loss."""
    if not len(labels):
        return {}
    errors = np.asarray(predictions, dtype=float) - np.asarray(labels, dtype=float)
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        **metrics.probability_metrics(pd.Series(labels), predictions),
    }


def of_model(outcomes: pd.DataFrame, model_name: str) -> pd.DataFrame:
    """The outcomes of one registered model's versions: the log may hold the answers of other
    models served beside it, whose version numbers mean nothing here."""
    return outcomes[outcomes["model_name"] == model_name].reset_index(drop=True)


def model_quality(outcomes: pd.DataFrame) -> list[ModelQuality]:
    """Per part and model version: rows, labelled rows, label rate, mean prediction, scores."""
    found = []
    for (role, version), rows in outcomes.groupby(["role", "model_version"], sort=True):
        labelled = rows[rows[LABELLED]]
        predicted = rows["prediction"].dropna()
        found.append(
            ModelQuality(
                role=str(role),
                model_version=int(version),
                rows=len(rows),
                labelled_rows=len(labelled),
                label_rate=float(labelled[LABEL].mean()) if len(labelled) else None,
                mean_prediction=float(predicted.mean()) if len(predicted) else None,
                **scores(labelled[LABEL].to_numpy(), labelled["prediction"].to_numpy()),
            )
        )
    # The champion's answers first.
    return sorted(found, key=lambda model: (model.role != CHAMPION, model.model_version))


def paired_comparisons(
    outcomes: pd.DataFrame, samples: int = 1000, seed: int = 0
) -> list[PairedComparison]:
    """Each version scored in shadow (a challenger, or the champion before the current one)
    against the champion version that answered the same labelled requests (the one that
    answered most of them, when the champion moved within the day)."""
    labelled = outcomes[outcomes[LABELLED] & outcomes["prediction"].notna()]
    if "writer" not in labelled:  # outcomes stored before the writer was kept
        labelled = labelled.assign(writer="")
    answers = labelled[labelled["role"] == CHAMPION]
    found = []
    for role in SHADOW_ROLES:
        shadows = labelled[labelled["role"] == role]
        for version, shadow in shadows.groupby("model_version", sort=True):
            pairs = _pairs(answers, shadow)
            if pairs.empty:
                continue
            champion = int(pairs["model_version_champion"].mode().iloc[0])
            pairs = pairs[pairs["model_version_champion"] == champion]
            truth = pairs[f"{LABEL}_champion"].to_numpy(dtype=float)
            champion_errors = (pairs["prediction_champion"].to_numpy() - truth) ** 2
            shadow_errors = (pairs["prediction_challenger"].to_numpy() - truth) ** 2
            compared = compare(
                champion, int(version), champion_errors, shadow_errors, samples, seed, role
            )
            scored = pd.to_datetime(pairs["scored_at_challenger"], utc=True).min()
            found.append(dataclasses.replace(compared, scored_from=scored.isoformat()))
    return found


def _pairs(answers: pd.DataFrame, shadow: pd.DataFrame) -> pd.DataFrame:
    """Each shadow row with the champion's answer of its own run, else of the latest run that
    answered the same request."""
    suffixes = ("_champion", "_challenger")
    same_run = answers.merge(shadow, on=PAIR_KEY, suffixes=suffixes)
    answered = shadow[PAIR_KEY].merge(
        answers[PAIR_KEY].drop_duplicates(), on=PAIR_KEY, how="left", indicator=True
    )
    rest = shadow[(answered["_merge"] == "left_only").to_numpy()]
    if rest.empty:
        return same_run
    latest = answers.sort_values("scored_at").drop_duplicates(REQUEST, keep="last")
    other_runs = latest.drop(columns="writer").merge(
        rest.drop(columns="writer"), on=REQUEST, suffixes=suffixes
    )
    return pd.concat([same_run.drop(columns="writer"), other_runs], ignore_index=True)


def compare(
    champion: int,
    challenger: int,
    champion_errors: np.ndarray,
    challenger_errors: np.ndarray,
    samples: int = 1000,
    seed: int = 0,
    shadow_role: str = CHALLENGER,
) -> PairedComparison:
    """The RMSE gain on paired squared errors and its bootstrap 95% interval: the same rows
    are resampled for both models, so the noise the two share cancels."""
    rows = len(champion_errors)
    champion_rmse = float(np.sqrt(champion_errors.mean()))
    challenger_rmse = float(np.sqrt(challenger_errors.mean()))
    low, high = _bootstrap_interval(champion_errors, challenger_errors, samples, seed)
    return PairedComparison(
        champion_version=champion,
        challenger_version=challenger,
        paired_rows=rows,
        champion_rmse=champion_rmse,
        challenger_rmse=challenger_rmse,
        rmse_gain=champion_rmse - challenger_rmse,
        gain_low=low,
        gain_high=high,
        shadow_role=shadow_role,
    )


def _bootstrap_interval(
    champion_errors: np.ndarray, challenger_errors: np.ndarray, samples: int, seed: int
) -> tuple[float | None, float | None]:
    rows = len(champion_errors)
    if rows < 2:
        return None, None
    rng = np.random.default_rng(seed)
    if rows > BOOTSTRAP_MAX_ROWS:
        kept = rng.choice(rows, BOOTSTRAP_MAX_ROWS, replace=False)
        champion_errors, challenger_errors = champion_errors[kept], challenger_errors[kept]
    gains = []
    for start in range(0, samples, _BOOTSTRAP_CHUNK):
        count = min(_BOOTSTRAP_CHUNK, samples - start)
        drawn = rng.integers(0, len(champion_errors), size=(count, len(champion_errors)))
        gains.append(
            np.sqrt(champion_errors[drawn].mean(axis=1))
            - np.sqrt(challenger_errors[drawn].mean(axis=1))
        )
    low, high = np.percentile(np.concatenate(gains), [2.5, 97.5])
    return float(low), float(high)


def served_features(outcomes: pd.DataFrame, role: str, version: int) -> pd.DataFrame:
    """The features one model version was served, one row per prediction (from the log's
    JSON), whether or not the labels arrived."""
    rows = outcomes[(outcomes["role"] == role) & (outcomes["model_version"] == version)]
    if rows.empty:
        return pd.DataFrame()
    return pd.read_json(io.StringIO("\n".join(rows["features"])), lines=True, dtype=False)


def served_drift(profile: dict, served: pd.DataFrame) -> dict[str, float]:
    """PSI of each profiled feature the served rows carry against the training profile
    (core/tracking/profiles.py's `features`)."""
    shared = {name: bins for name, bins in profile.items() if name in served.columns}
    if not shared or served.empty:
        return {}
    return drift.population_stability(shared, served[list(shared)].astype(float))
