"""The parquet file of hourly driver stats that the feature view reads."""

from feast import FileSource

# Relative to this repo; the pipeline's FeastResource can point it at another file.
driver_stats_source = FileSource(
    name="driver_stats_source",
    path="../var/data/driver_stats.parquet",
    timestamp_field="datetime",
    # A driver-hour can be written twice; the row with the latest `created` is the true one.
    created_timestamp_column="created",
    description="Hourly conversion, acceptance and trip figures per driver.",
)
