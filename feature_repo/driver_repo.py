"""The feature definitions that `feast apply` reads: the driver entity, the stats file, the
driver_stats feature view and the FeatureServices that name each model's features.

One module, as in `feast init`'s template, so that it imports nothing from beside it and the
pipeline can load it from any working directory.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float32, Int32

driver = Entity(
    name="driver",
    join_keys=["driver_id"],
    value_type=ValueType.INT64,
    description="A driver, identified by driver_id.",
)

# Relative to this repo; the pipeline's FeastResource can point it at another file.
driver_stats_source = FileSource(
    name="driver_stats_source",
    path="../var/data/driver_stats.parquet",
    timestamp_field="datetime",
    # A driver-hour can be written twice; the row with the latest `created` is the true one.
    created_timestamp_column="created",
    description="Hourly conversion, acceptance and trip figures per driver.",
)

driver_stats = FeatureView(
    name="driver_stats",
    entities=[driver],
    # Stats are hourly; a value older than a day says nothing about the driver's current state.
    ttl=timedelta(days=1),
    # The `min`/`max` tags are each feature's valid range (inclusive), which the training
    # pipeline's feature_values_in_range gate enforces.
    schema=[
        Field(
            name="conv_rate",
            dtype=Float32,
            description="Share of offers converted.",
            tags={"min": "0", "max": "1"},
        ),
        Field(
            name="acc_rate",
            dtype=Float32,
            description="Share of offers accepted.",
            tags={"min": "0", "max": "1"},
        ),
        Field(
            name="avg_daily_trips",
            dtype=Int32,
            description="Trips per day, averaged.",
            tags={"min": "0"},
        ),
    ],
    source=driver_stats_source,
    online=True,
    description="Hourly driver performance statistics.",
)

# The model trains on exactly the features this service names, in this order; add one here
# and the next run trains on it.
driver_activity_model = FeatureService(
    name="driver_activity_model",
    features=[driver_stats[["conv_rate", "acc_rate", "avg_daily_trips"]]],
    description="Inputs of the trip-completion model: what it is trained on and served with.",
)
