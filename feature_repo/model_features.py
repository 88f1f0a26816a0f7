"""FeatureServices: what the trip-completion model uses, and what its training table holds."""

from driver_stats_view import driver_stats
from feast import FeatureService

driver_activity_model = FeatureService(
    name="driver_activity_model",
    features=[driver_stats[["conv_rate", "acc_rate", "avg_daily_trips"]]],
    description="Inputs of the trip-completion model; keep in step with training_assets.schema.",
)

# The model's features plus the joined row's timestamp, which the point-in-time gate audits.
driver_activity_training = FeatureService(
    name="driver_activity_training",
    features=[
        driver_stats[["conv_rate", "acc_rate", "avg_daily_trips", "stats_observed_unix"]],
    ],
    description="Training table columns: model inputs plus the joined row's timestamp.",
)
