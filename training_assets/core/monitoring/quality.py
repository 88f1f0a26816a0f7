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
import pyarrow as pa
import pyarrow.compute as pc

from training_assets.core.ml import drift, metrics
from training_assets.core.monitoring.outcomes import LABELLED, latest_positions
from training_assets.core.monitoring.prediction_log import CHALLENGER, CHAMPION, SHADOW_ROLES
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL

# The bootstrap resamples the paired rows in this many groups (rows assigned to them at random):
# a resample sums the groups' squared errors instead of drawing every row. With no more rows
# than groups each row is a group of its own: the ordinary paired bootstrap.
BOOTSTRAP_GROUPS = 1000
# A shadow score and the answer it is compared with: the same request, scored by the same run
# or server (`writer`) when that run's answer is still the latest. A day rescored after the
# champion moved holds both champions' answers to each request; each shadow is paired with the
# champion of its own scoring. A shadow whose run's answer was replaced by a later scoring
# (a rescore without the shadow) is paired with the latest answer to the same request.
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
        **metrics.probability_metrics(labels, predictions),
    }


Outcomes = pa.Table | pd.DataFrame


def as_table(outcomes: Outcomes) -> pa.Table:
    """Outcomes as Arrow: as prediction_outcomes stores them, or a frame of the same columns."""
    if isinstance(outcomes, pa.Table):
        return outcomes
    return pa.Table.from_pandas(outcomes, preserve_index=False)


def of_model(outcomes: Outcomes, model_name: str) -> Outcomes:
    """The outcomes (or logged rows) of one registered model's versions: the log may hold the
    answers of other models served beside it, whose version numbers mean nothing here."""
    if isinstance(outcomes, pa.Table):
        return outcomes.filter(pc.equal(outcomes.column("model_name"), model_name))
    return outcomes[outcomes["model_name"] == model_name].reset_index(drop=True)


def model_quality(outcomes: Outcomes) -> list[ModelQuality]:
    """Per part and model version: rows, labelled rows, label rate, mean prediction, and the
    scores on the labelled rows that have a prediction."""
    table = as_table(outcomes)
    prediction = _floats(table.column("prediction"))
    label = _floats(table.column(LABEL))
    labelled = _floats(table.column(LABELLED)) == 1
    predicted = ~np.isnan(prediction)
    found = []
    for (role, version), rows in _parts(table):
        answered = labelled & rows
        scored = answered & predicted
        labels = label[answered]
        found.append(
            ModelQuality(
                role=role,
                model_version=version,
                rows=int(rows.sum()),
                labelled_rows=int(answered.sum()),
                label_rate=_mean(labels),
                mean_prediction=_mean(prediction[rows & predicted]),
                **scores(label[scored], prediction[scored]),
            )
        )
    # The champion's answers first.
    return sorted(found, key=lambda model: (model.role != CHAMPION, model.model_version))


def _parts(table: pa.Table) -> list[tuple[tuple[str, int], np.ndarray]]:
    """Each part and model version of the outcomes with a mask of its rows, in order."""
    roles = pc.dictionary_encode(table.column("role")).combine_chunks()
    versions = pc.dictionary_encode(table.column("model_version")).combine_chunks()
    count = len(versions.dictionary)
    code = roles.indices.to_numpy(zero_copy_only=False).astype(np.int64) * count + (
        versions.indices.to_numpy(zero_copy_only=False)
    )
    parts = [
        (
            (
                str(roles.dictionary[int(c) // count]),
                int(versions.dictionary[int(c) % count].as_py()),
            ),
            c,
        )
        for c in np.flatnonzero(np.bincount(code))
    ]
    return [(part, code == c) for part, c in sorted(parts)]


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """A column as floats, NaN where it is null."""
    return column.to_numpy().astype(float, copy=False)


def _mean(values: np.ndarray) -> float | None:
    """The mean of the values that are not NaN; None when there are none."""
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else None


# Each shadow score with the answer it is compared with, by their positions among the outcomes:
# the champion's answers of its own run, else (its run's answer replaced by a later scoring)
# the latest answer to the same request; on the labelled rows that have a prediction.
_PAIRED = f"""
WITH labelled AS (
    SELECT _row, source, {ENTITY_KEY}, {EVENT_TIMESTAMP}, {{writer}} AS writer, role, scored_at
    FROM outcomes
    WHERE {LABELLED} AND NOT isnan(prediction)
),
candidates AS (
    SELECT shadow._row AS shadow_row, answer._row AS champion_row,
           shadow.writer = answer.writer AS same_run, answer.scored_at AS answered_at
    FROM labelled shadow JOIN labelled answer
      ON shadow.source = answer.source AND shadow.{ENTITY_KEY} = answer.{ENTITY_KEY}
      AND shadow.{EVENT_TIMESTAMP} = answer.{EVENT_TIMESTAMP}
    WHERE shadow.role IN ({", ".join(f"'{role}'" for role in SHADOW_ROLES)})
      AND answer.role = '{CHAMPION}'
),
by_shadow AS (
    SELECT shadow_row, bool_or(same_run) AS own_run_answered,
           arg_max(champion_row, (answered_at, champion_row)) AS latest
    FROM candidates
    GROUP BY shadow_row
)
SELECT shadow_row, champion_row FROM candidates WHERE same_run
UNION ALL
SELECT shadow_row, latest FROM by_shadow WHERE NOT own_run_answered
"""


def paired_comparisons(
    outcomes: Outcomes, samples: int = 1000, seed: int = 0
) -> list[PairedComparison]:
    """Each version scored in shadow (a challenger, or the champion before the current one)
    against the champion version that answered the same labelled requests (the one that
    answered most of them, when the champion moved within the day)."""
    table = as_table(outcomes)
    table = table.append_column("_row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    # Outcomes stored before the writer was kept: every answer is of the same run.
    writer = "writer" if "writer" in table.column_names else "''"
    import duckdb  # imported when it runs: see outcomes.join_outcomes

    with duckdb.connect() as connection:
        connection.register("outcomes", table)
        pairs = connection.sql(_PAIRED.format(writer=writer)).fetchnumpy()
    # In the order of the shadow rows (and of their answers), whatever order the query found
    # them in: the bootstrap's groups are dealt the same way on every run.
    order = np.lexsort((pairs["champion_row"], pairs["shadow_row"]))
    shadow_rows, champion_rows = pairs["shadow_row"][order], pairs["champion_row"][order]
    version = table.column("model_version").to_numpy()
    shadow_versions, champion_versions = version[shadow_rows], version[champion_rows]
    prediction, label = _floats(table.column("prediction")), _floats(table.column(LABEL))
    truth = label[champion_rows]
    champion_errors = (prediction[champion_rows] - truth) ** 2
    shadow_errors = (prediction[shadow_rows] - truth) ** 2
    scored_at = table.column("scored_at")
    found = []
    for shadow_role in SHADOW_ROLES:
        of_role = pc.equal(table.column("role"), shadow_role).to_numpy()[shadow_rows]
        for shadow_version in np.unique(shadow_versions[of_role]):
            compared = of_role & (shadow_versions == shadow_version)
            champion = _mode(champion_versions[compared])
            kept = compared & (champion_versions == champion)
            result = compare(
                champion,
                int(shadow_version),
                champion_errors[kept],
                shadow_errors[kept],
                samples,
                seed,
                shadow_role,
            )
            scored = pc.min(scored_at.take(shadow_rows[kept])).as_py()
            found.append(dataclasses.replace(result, scored_from=scored.isoformat()))
    return found


def _mode(values: np.ndarray) -> int:
    """The most frequent value; the smallest of those equally frequent."""
    distinct, counts = np.unique(values, return_counts=True)
    return int(distinct[counts == counts.max()].min())


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


_RESAMPLES_AT_ONCE = 1000


def _bootstrap_interval(
    champion_errors: np.ndarray,
    challenger_errors: np.ndarray,
    samples: int,
    seed: int,
    groups: int = BOOTSTRAP_GROUPS,
) -> tuple[float | None, float | None]:
    """The 2.5th and 97.5th percentiles of the RMSE gain over `samples` resamples of the
    paired rows, drawn group by group (BOOTSTRAP_GROUPS).

    Rows are dealt to groups of equal size (within one) in a random order; a resample draws
    as many groups as there are, with replacement, and its RMSEs are those of the rows of the
    groups drawn (their summed squared errors over their summed rows). The sum of a group's
    rows is as random as any of its rows is, so resampling the groups resamples the day:
    every row counts, at the cost of a few thousand draws per resample instead of a row each.
    """
    rows = len(champion_errors)
    if rows < 2:
        return None, None
    rng = np.random.default_rng(seed)
    if rows <= groups:
        group, groups = np.arange(rows), rows
    else:
        group = rng.permutation(rows) % groups
    sizes = np.bincount(group, minlength=groups).astype(float)
    champion_sums = np.bincount(group, champion_errors, minlength=groups)
    challenger_sums = np.bincount(group, challenger_errors, minlength=groups)
    gains = []
    # A thousand resamples at a time: memory stays that of one block, whatever `samples` is.
    for start in range(0, samples, _RESAMPLES_AT_ONCE):
        drawn = rng.integers(0, groups, size=(min(_RESAMPLES_AT_ONCE, samples - start), groups))
        counted = sizes[drawn].sum(axis=1)
        gains.append(
            np.sqrt(champion_sums[drawn].sum(axis=1) / counted)
            - np.sqrt(challenger_sums[drawn].sum(axis=1) / counted)
        )
    low, high = np.percentile(np.concatenate(gains), [2.5, 97.5])
    return float(low), float(high)


# What the served features' drift reads of the day's log.
SERVED_COLUMNS = ["source", "role", "model_name", "model_version", ENTITY_KEY, EVENT_TIMESTAMP]
SERVED_COLUMNS += ["scored_at", "sequence", "features"]


def served_features(logged: pa.Table | pd.DataFrame, role: str, version: int) -> pd.DataFrame:
    """The features one model version was served, one row per prediction (its latest score,
    as in the outcomes), whether or not the labels arrived: parsed from the JSON of the day's
    logged rows (SERVED_COLUMNS of the prediction log, of one model)."""
    table = as_table(logged)
    rows = table.filter(
        pc.and_(
            pc.equal(table.column("role"), role), pc.equal(table.column("model_version"), version)
        )
    )
    if not rows.num_rows:
        return pd.DataFrame()
    import duckdb  # imported when it runs: see outcomes.join_outcomes

    with duckdb.connect() as connection:
        rows = rows.take(latest_positions(connection, rows))
    text = "\n".join(rows.column("features").to_pylist())
    return pd.read_json(io.StringIO(text), lines=True, dtype=False)


def served_drift(profile: dict, served: pd.DataFrame) -> dict[str, float]:
    """PSI of each profiled feature the served rows carry against the training profile
    (core/tracking/profiles.py's `features`)."""
    shared = {name: bins for name, bins in profile.items() if name in served.columns}
    if not shared or served.empty:
        return {}
    return drift.population_stability(shared, served[list(shared)].astype(float))
