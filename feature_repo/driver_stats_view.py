"""The driver_stats feature view."""

from datetime import timedelta

from driver_entity import driver
from driver_stats_source import driver_stats_source
from feast import FeatureView, Field
from feast.types import Float32, Int32, Int64

driver_stats = FeatureView(
    name="driver_stats",
    entities=[driver],
    # Stats are hourly; a value older than a day says nothing about the driver's current state.
    ttl=timedelta(days=1),
    schema=[
        Field(name="conv_rate", dtype=Float32, description="Share of offers converted."),
        Field(name="acc_rate", dtype=Float32, description="Share of offers accepted."),
        Field(name="avg_daily_trips", dtype=Int32, description="Trips per day, averaged."),
        # The row's timestamp again, so a training table can show which row it joined.
        Field(
            name="stats_observed_unix",
            dtype=Int64,
            description="When this stats row was observed, in epoch seconds.",
        ),
    ],
    source=driver_stats_source,
    online=True,
    description="Hourly driver performance statistics.",
)
