"""The gates' thresholds, declared once with their defaults and meaning.

The Dagster resource `GateThresholds` (defs/resources/gates.py) takes these fields as its run
config; code that runs the gates without Dagster builds `GateLimits()` for the same defaults.
"""

from pydantic import BaseModel, Field


class GateLimits(BaseModel):
    """Thresholds of the blocking data and model gates.

    The model defaults are calibrated on the sample data, whose label is a noisy 0/1: the mean
    predictor scores RMSE ≈ 0.50 and the default model ≈ 0.46, while a model fit to shuffled
    labels stays at ≈ 0.50 with no gain over the baseline. So the sample registers a model and
    a model that learned nothing does not.
    """

    max_feature_null_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Highest share of rows on which a feature may be null (no stats in force).",
    )
    max_feature_time_null_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Highest share of a feature view's file rows whose timestamp or created "
        "time may be null. A row without a timestamp is never joined; one without a created "
        "time loses to every version of its driver and time that has one, and a version among "
        "several without one is picked by file order, not by when it was written. 0: any "
        "null blocks.",
    )
    min_rows: int = Field(
        default=1000, ge=1, description="Fewest rows the training table may have."
    )
    rmse_ceiling: float = Field(default=0.48, gt=0, description="Highest test RMSE registered.")
    mae_ceiling: float = Field(default=0.48, gt=0, description="Highest test MAE registered.")
    min_improvement_over_baseline: float = Field(
        default=0.03,
        description="Least relative RMSE gain over predicting the training mean, e.g. 0.03 = 3%.",
    )
    feature_minimums: dict[str, float] = Field(
        default_factory=dict,
        description="Lowest valid value per feature, in place of its `min` tag in the feature "
        "repo, e.g. {'avg_daily_trips': 1}.",
    )
    feature_maximums: dict[str, float] = Field(
        default_factory=dict,
        description="Highest valid value per feature, in place of its `max` tag in the feature "
        "repo, e.g. {'avg_daily_trips': 500}.",
    )
    max_duplicate_rate: float = Field(
        default=0.01,
        description="Share of rows repeating (driver_id, event_timestamp, label) that only warns.",
    )
    drift_warn_psi: float = Field(default=0.1, description="Feature PSI that warns.")
    drift_block_psi: float = Field(
        default=0.25, description="Feature PSI that blocks, when drift_blocks is on."
    )
    label_shift_warn: float = Field(default=0.05, description="Label-rate change that warns.")
    label_shift_block: float = Field(
        default=0.15, description="Label-rate change that blocks, when drift_blocks is on."
    )
    drift_blocks: bool = Field(
        default=False,
        description="Whether drift beyond the blocking limits holds back registration. Off by "
        "default: when the world moves, the drift sensor asks for the very retrain this gate "
        "would refuse; broken data is caught by the range, null and schema gates instead.",
    )
    late_features_block: bool = Field(
        default=False,
        description="Whether orders joined with feature rows written after them (late "
        "corrections, backfills) hold back registration; by default they warn. Turn on "
        "feast.filter_by_created_timestamp to keep such rows out of the join.",
    )
    regression_tolerance: float = Field(
        default=0.005, description="How much higher than the champion's the RMSE may be."
    )
    slice_column: str = Field(default="driver_id", description="Column that defines slices.")
    slice_min_rows: int = Field(default=15, description="Slices smaller than this are not judged.")
    slice_rmse_ceiling: float = Field(default=0.6, description="Highest RMSE of any slice.")
    slice_tolerance: float = Field(
        default=0.05, description="How much worse than the champion's a slice's RMSE may be."
    )
    latency_batch_rows: int = Field(default=1000, description="Rows per timed prediction batch.")
    latency_repeats: int = Field(default=30, description="Timed batches for the p95.")
    latency_budget_ms: float = Field(default=100.0, description="Highest p95 batch time, in ms.")
    min_labelled_rows: int = Field(
        default=200,
        ge=2,
        description="Fewest labelled rows of a day on which a model's live RMSE, or a "
        "challenger against the champion, is judged; fewer are reported, not judged. With the "
        "tolerance below, 200 rows keep a steady world's days from failing on noise (the RMSE "
        "of 200 noisy 0/1 labels moves by about 0.012 from day to day).",
    )
    live_rmse_tolerance: float = Field(
        default=0.05,
        ge=0,
        description="How much higher than its offline test RMSE the champion's live RMSE of a "
        "day may be.",
    )
    served_drift_warn_psi: float = Field(
        default=0.2,
        gt=0,
        description="Served-feature PSI against the model's training profile that warns.",
    )
    min_served_rows: int = Field(
        default=200,
        ge=1,
        description="Fewest served rows of a day on which served-feature drift is judged.",
    )
    bootstrap_samples: int = Field(
        default=1000,
        ge=100,
        description="Bootstrap resamples of the paired challenger-against-champion difference.",
    )
    shadow_min_days: int = Field(
        default=3,
        ge=1,
        description="With promotion: shadow, the latest this many days on which the challenger "
        "was compared with the champion on at least min_labelled_rows pairs must each have "
        "its gain's 95% interval above zero before @champion moves to it: one day's interval "
        "misses one time in forty, three in a row one in sixty thousand.",
    )
