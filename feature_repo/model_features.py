"""The FeatureService naming exactly the features the trip-completion model uses."""

from driver_stats_view import driver_stats
from feast import FeatureService

driver_activity_model = FeatureService(
    name="driver_activity_model",
    features=[driver_stats[["conv_rate", "acc_rate", "avg_daily_trips"]]],
    description="Inputs of the trip-completion model; keep in step with training_assets.schema.",
)
