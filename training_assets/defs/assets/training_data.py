"""The training table: orders joined point-in-time with driver features."""

from dagster import AssetExecutionContext, Failure, MetadataValue, TableColumn, TableSchema, asset

from training_assets.core import paths
from training_assets.core.data import orders, snapshot
from training_assets.core.data.table_query import TableFile
from training_assets.core.ml.table import write_training_table
from training_assets.core.schema import TrainingSchema
from training_assets.core.tracking.lineage import DATA_DIGEST_KEY
from training_assets.defs.assets.feature_store import feature_store
from training_assets.defs.assets.sources import driver_stats_source
from training_assets.defs.assets.sources import orders as orders_asset
from training_assets.defs.instance_reads import retried
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.orders import OrdersSource
from training_assets.defs.tags import ORDERS_VERSION_TAG, OWNERS, STATS_VERSION_TAG


@asset(
    owners=OWNERS,
    group_name="training",
    # The applied registry, not feature_store's record, is what the join reads: a dependency
    # without an input, so training_data can rematerialize alone on the registry as it is.
    deps=[orders_asset, driver_stats_source, feature_store],
    kinds={"feast", "pyarrow"},
    code_version="2",
)
def training_data(
    context: AssetExecutionContext,
    feast: FeastResource,
    orders_source: OrdersSource,
) -> TableFile:
    """Orders joined point-in-time with the configured FeatureService's features: one row per
    order, in order, each feature cast to the type its feature view declares."""
    # Raises naming the registry and the services it holds when the service is not applied.
    with feast.retried_on_outage():
        schema = feast.training_schema()
    # The snapshot this run trains on, listed once and passed down: the versions its request
    # pinned in the run's tags (the new-data sensor's), else the files as they are now, which
    # are then pinned the same way.
    order_files, stats_files = orders_source.listed(), feast.driver_stats_listed()
    versions = {ORDERS_VERSION_TAG: order_files.digest, STATS_VERSION_TAG: stats_files.digest}
    snapshot.verify_requested({tag: context.run.tags.get(tag, "") for tag in versions}, versions)
    retried(lambda: context.instance.add_run_tags(context.run.run_id, versions), "this run's tags")
    # Checked file by file now; read batch by batch as the join takes them.
    found = orders.open_orders(order_files)
    days = orders_source.training_window_days
    # Every order, or (a window set) those of the newest days: the same tables either way.
    windowed = days is not None
    # A window of under one day is refused here, naming itself (OrdersError).
    try:
        chosen = found.window(days) if windowed else found
    except orders.OrdersError as error:
        raise Failure(description=f"orders_source.training_window_days: {error}") from None
    window = {"training_window_days": days, "window_start": str(chosen.start)} if windowed else {}
    context.log.info(
        f"Joining {chosen.describe() if windowed else f'{found.rows} orders'} from "
        f"{order_files.shown} in slices of up to {feast.join_slice_rows}"
    )
    staged = paths.staged_output(context.run.run_id, "training_data.parquet")
    try:
        with feast.retried_on_outage():
            figures = write_training_table(
                chosen.tables(), feast.historical_features, schema, staged, feast.join_slice_rows
            )
        order_files.verify_unchanged()
        stats_files.verify_unchanged()
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    context.add_output_metadata(
        {
            "dagster/row_count": figures.rows,
            "orders_path": MetadataValue.path(order_files.shown),
            DATA_DIGEST_KEY: orders_source.training_digest(order_files.digest, stats_files.digest),
            "orders_version": order_files.digest,
            "driver_stats_version": stats_files.digest,
            "input_orders": found.rows,
            **window,
            "ignored_order_columns": MetadataValue.json(found.ignored),
            "feature_service": schema.service,
            "features": MetadataValue.json(schema.to_dict()["features"]),
            "dagster/column_schema": column_schema(schema),
            "rows_without_features": figures.rows_without_features,
            "positive_rate": figures.positive_rate,
        }
    )
    # The parquet IO manager moves the written file into the run's folder.
    return TableFile(str(staged))


def column_schema(schema: TrainingSchema) -> TableSchema:
    """The training table's columns as the Dagster catalog shows them, features described as
    the feature repo describes them."""
    features = {feature.name: feature for feature in schema.features}
    return TableSchema(
        columns=[
            TableColumn(
                name,
                dtype,
                description=(
                    f"{features[name].description} Valid range {features[name].range_text()}."
                    if name in features
                    else ""
                ).strip(),
            )
            for name, dtype in schema.dtypes.items()
        ]
    )
