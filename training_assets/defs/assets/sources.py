"""The external inputs: orders (labels) and the driver stats file behind the feature view."""

from dagster import DataVersion, observable_source_asset

from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.orders import OrdersSource


@observable_source_asset(group_name="training")
def orders(orders_source: OrdersSource) -> DataVersion:
    """Orders with their trip_completed label; the data version is a hash of the files."""
    return DataVersion(orders_source.content_hash())


@observable_source_asset(group_name="training")
def driver_stats_source(feast: FeastResource) -> DataVersion:
    """The parquet file of hourly driver stats; the data version is a hash of its bytes."""
    return DataVersion(feast.driver_stats_hash())
