"""The training table: orders joined point-in-time with driver features."""

import pyarrow as pa
from dagster import AssetExecutionContext, MetadataValue, asset

from training_assets.core.data import fingerprints
from training_assets.core.data.orders import IGNORED_COLUMNS
from training_assets.core.ml.table import (
    as_training_table,
    positive_rate,
    rows_without_features,
    with_order_position,
)
from training_assets.core.schema import FEATURE_SERVICE
from training_assets.core.tracking.lineage import DATA_DIGEST_KEY
from training_assets.defs.assets.sources import (
    driver_stats_source,
    orders,
)
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.orders import OrdersSource


@asset(
    group_name="training",
    deps=[orders, driver_stats_source],
    kinds={"feast", "pyarrow"},
    code_version="2",
)
def training_data(
    context: AssetExecutionContext,
    feature_store: dict,
    feast: FeastResource,
    orders_source: OrdersSource,
) -> pa.Table:
    """Orders joined point-in-time with driver features: one row per order, in order."""
    if FEATURE_SERVICE not in feature_store["feature_services"]:
        raise ValueError(
            f"feature service {FEATURE_SERVICE!r} is not in the applied repo; "
            f"found {feature_store['feature_services']}"
        )
    # Digest before reading, so new data landing mid-run is seen as new by the sensor.
    orders_version, stats_version = orders_source.content_hash(), feast.driver_stats_hash()
    data_digest = fingerprints.combined_digest(orders_version, stats_version)
    order_frame = orders_source.read()
    context.log.info(f"Joining {len(order_frame)} orders from {orders_source.location()}")
    joined, feature_types = feast.historical_features(
        with_order_position(order_frame), FEATURE_SERVICE
    )
    table = as_training_table(joined, feature_types)
    context.add_output_metadata(
        {
            "orders_path": MetadataValue.path(str(orders_source.location())),
            DATA_DIGEST_KEY: data_digest,
            "orders_version": orders_version,
            "driver_stats_version": stats_version,
            "input_orders": len(order_frame),
            "ignored_order_columns": MetadataValue.json(order_frame.attrs.get(IGNORED_COLUMNS, [])),
            "rows_without_features": rows_without_features(table),
            "positive_rate": positive_rate(table),
        }
    )
    return table
