"""Gates that compare against the production model (the registry's champion alias) and check
that the model serves. With no champion yet, the comparisons pass with a note saying so: the
first model has nothing to beat.

The gates are judged once, by the `challenger_judgement` asset; these checks report its
outcomes on `evaluation`, whose blocking checks hold back the registration.
"""

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetIn, MetadataValue, multi_asset_check

from training_assets.core.gates.catalog import CHAMPION_GATES
from training_assets.core.gates.champion_gates import ChallengerJudgement
from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.records import Evaluation
from training_assets.defs.checks.results import check_result, check_spec
from training_assets.defs.resources.gates import GateThresholds

JUDGEMENT = "challenger_judgement"
# Judged slices shown on the slice gate's result, worst first; the failing ones are all in its
# evidence.
SHOWN_SLICES = 20


@multi_asset_check(
    specs=[check_spec(gate, additional_deps=[JUDGEMENT]) for gate in CHAMPION_GATES],
    ins={name: AssetIn(name) for name in ("evaluation", JUDGEMENT)},
)
def champion_model_gates(
    context: AssetCheckExecutionContext,
    evaluation: Evaluation,
    challenger_judgement: ChallengerJudgement,
    gates: GateThresholds,
):
    """The model serves, keeps the champion's inputs, is fast enough and beats the champion
    overall and on every large slice, as challenger_judgement found: of the model `evaluation`
    scored, against the champion it pinned, under this run's limits."""
    judgement, limits = challenger_judgement, gates.limits()
    differences = judgement.differences(evaluation.model_uri, evaluation.champion_version, limits)
    if differences:
        # A judgement of another model, champion or limits (one materialized without this
        # evaluation) says nothing about this one: every gate fails, naming what differs.
        outcomes = {
            gate.name: GateOutcome(
                False,
                {"differences": differences},
                f"{JUDGEMENT} judged other {', '.join(differences)} than this evaluation: "
                f"materialize {JUDGEMENT} and evaluation together",
            )
            for gate in CHAMPION_GATES
        }
    else:
        context.log.info(
            f"Challenger {judgement.model_uri} against {judgement.champion_uri}, "
            f"as {JUDGEMENT} judged"
        )
        outcomes = judgement.outcomes
    slices = judgement.slice_table()
    judged = slices[slices["rows"] >= limits.slice_min_rows]
    for gate in CHAMPION_GATES:
        extra = None
        if gate.name == "worst_slice_within_limits" and not differences:
            extra = {"slices": MetadataValue.md(_markdown(judged.head(SHOWN_SLICES)))}
        yield check_result(gate.name, outcomes[gate.name], extra)


def _markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "---|" * len(table.columns)
    rows = [
        "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])
