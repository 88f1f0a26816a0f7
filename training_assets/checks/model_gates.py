"""Model gates on the evaluation: error ceilings and a margin over the mean predictor."""

from dagster import AssetCheckResult, asset_check

from training_assets import validation
from training_assets.checks import check_result_kwargs
from training_assets.config import GateThresholds


@asset_check(asset="evaluation", blocking=True)
def rmse_within_ceiling(evaluation: dict, gates: GateThresholds) -> AssetCheckResult:
    """The test-set RMSE does not exceed the configured ceiling."""
    outcome = validation.metric_within_ceiling(evaluation, "rmse", gates.rmse_ceiling)
    return AssetCheckResult(**check_result_kwargs(outcome))


@asset_check(asset="evaluation", blocking=True)
def mae_within_ceiling(evaluation: dict, gates: GateThresholds) -> AssetCheckResult:
    """The test-set MAE does not exceed the configured ceiling."""
    outcome = validation.metric_within_ceiling(evaluation, "mae", gates.mae_ceiling)
    return AssetCheckResult(**check_result_kwargs(outcome))


@asset_check(asset="evaluation", blocking=True)
def beats_mean_baseline(evaluation: dict, gates: GateThresholds) -> AssetCheckResult:
    """The test-set RMSE beats predicting the training mean by the configured margin."""
    outcome = validation.beats_mean_baseline(evaluation, gates.min_improvement_over_baseline)
    return AssetCheckResult(**check_result_kwargs(outcome))
