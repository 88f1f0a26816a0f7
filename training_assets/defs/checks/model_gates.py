"""Model gates on the evaluation: error ceilings and a margin over the mean predictor."""

from dagster import multi_asset_check

from training_assets.core.gates.catalog import METRIC_GATES, evaluate_metric_gates
from training_assets.core.records import Evaluation
from training_assets.defs.checks.results import check_result, check_spec
from training_assets.defs.resources.gates import GateThresholds


@multi_asset_check(specs=[check_spec(gate) for gate in METRIC_GATES])
def metric_gates(evaluation: Evaluation, gates: GateThresholds):
    """The test-set RMSE and MAE stay under their ceilings and beat the mean predictor."""
    for name, outcome in evaluate_metric_gates(evaluation.metrics(), gates.limits()).items():
        yield check_result(name, outcome)
