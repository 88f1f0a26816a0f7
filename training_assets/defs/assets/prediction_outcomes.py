"""The outcomes of a day's logged predictions: joined with the labels that have arrived."""

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetExecutionContext, Failure, MetadataValue, asset

from training_assets.core.data.locations import LocationError
from training_assets.core.data.orders import OrdersError, open_orders
from training_assets.core.monitoring.outcomes import LOGGED_COLUMNS, join_outcomes, labels_of_day
from training_assets.core.schema import LABEL
from training_assets.defs.assets.batch_predictions import batch_predictions
from training_assets.defs.partitions import serving_days
from training_assets.defs.resources.orders import OrdersSource
from training_assets.defs.resources.prediction_log import PredictionLogResource
from training_assets.defs.tags import OWNERS


@asset(
    owners=OWNERS,
    group_name="monitoring",
    # The log holds online predictions too: batch_predictions is one of its writers.
    deps=[batch_predictions, "orders"],
    kinds={"parquet"},
    # 3: an Arrow table without the logged features (the served drift reads them from the log).
    code_version="3",
    partitions_def=serving_days,
)
def prediction_outcomes(
    context: AssetExecutionContext,
    prediction_log: PredictionLogResource,
    orders_source: OrdersSource,
) -> pa.Table:
    """The day's logged predictions (one per request, part and model: the latest; without the
    features they were served, which stay in the log) with the label of the order of the same
    driver and event time, null while it has not arrived, and `labelled`."""
    day = date.fromisoformat(context.partition_key)
    logged = prediction_log.sink().read(day, columns=LOGGED_COLUMNS)
    try:
        labels = labels_of_day(open_orders(orders_source.listed()).tables(), day)
    except (OrdersError, LocationError) as error:
        raise Failure(description=str(error)) from None
    joined, counts = join_outcomes(logged, labels)
    label_rate = pc.mean(joined.column(LABEL)).as_py()  # of the labelled rows: nulls skipped
    parts = joined.group_by(["role", "model_version"]).aggregate([([], "count_all")])
    context.add_output_metadata(
        {
            "dagster/row_count": counts.predictions,
            "logged_rows": counts.logged_rows,
            "labelled_rows": counts.labelled_rows,
            "unlabelled_rows": counts.unlabelled_rows,
            "label_coverage": counts.labelled_rows / counts.predictions
            if counts.predictions
            else 0.0,
            "conflicting_labels": counts.conflicting_labels,
            "label_rate": float(label_rate) if label_rate is not None else 0.0,
            "rows_by_part": MetadataValue.json(
                {
                    f"{part['role']} v{part['model_version']}": part["count_all"]
                    for part in parts.sort_by([("role", "ascending")]).to_pylist()
                }
            ),
        }
    )
    return joined
