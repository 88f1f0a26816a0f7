"""The external inputs: orders (labels) and the driver stats file behind the feature view.

Observing one records its data version, a digest of its files' names and bytes, so the UI marks
what was built from older data as stale; the new-data sensor records the same observations.
"""

from dagster import AssetSpec, DataVersion, ObserveResult, multi_observable_source_asset

from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.orders import OrdersSource
from training_assets.defs.tags import OWNERS


@multi_observable_source_asset(
    specs=[
        AssetSpec(
            "orders",
            group_name="training",
            description=(
                "Orders with their trip_completed label: event_timestamp, driver_id, "
                "trip_completed, in parquet, CSV or TSV files (orders_source.orders_path)."
            ),
            owners=OWNERS,
            kinds={"parquet", "csv"},
        )
    ]
)
def orders(orders_source: OrdersSource):
    files = orders_source.listed()
    yield ObserveResult(
        asset_key="orders",
        data_version=DataVersion(files.digest),
        metadata={"location": files.shown, "files": len(files.paths)},
    )


@multi_observable_source_asset(
    specs=[
        AssetSpec(
            "driver_stats_source",
            group_name="training",
            description=(
                "Hourly driver stats (datetime, driver_id, conv_rate, acc_rate, "
                "avg_daily_trips, created): the parquet file behind the driver_stats view "
                "(feast.driver_stats_path)."
            ),
            owners=OWNERS,
            kinds={"parquet", "feast"},
        )
    ]
)
def driver_stats_source(feast: FeastResource):
    files = feast.driver_stats_listed()
    yield ObserveResult(
        asset_key="driver_stats_source",
        data_version=DataVersion(files.digest),
        metadata={"location": files.shown},
    )
