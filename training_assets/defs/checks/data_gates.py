"""Data gates on the training table: schema, labels, nulls, row counts, ranges, duplicates,
and on the feature files' times.

They run as one multi-check on the table's parquet file, which DuckDB queries column by column
(the table is never loaded), and each property is reported as its own check, so the UI names
the one that failed.
"""

from dagster import multi_asset_check

from training_assets.core.data.table_query import TableFile
from training_assets.core.gates.catalog import DATA_GATES, evaluate_data_gates
from training_assets.defs.checks.results import check_result, check_spec
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.gates import GateThresholds
from training_assets.defs.resources.orders import OrdersSource


@multi_asset_check(specs=[check_spec(gate) for gate in DATA_GATES])
def training_data_gates(
    training_data: TableFile,
    gates: GateThresholds,
    orders_source: OrdersSource,
    feast: FeastResource,
):
    """The training table fits the feature service's schema, has valid labels and values, one
    row per order and no feature from an order's future; the feature files have their times."""
    with feast.table_query(training_data) as table:
        outcomes = evaluate_data_gates(
            table,
            feast.training_schema(),
            gates.limits(),
            orders_source.count(),
            feast.feature_sources(),
            **feast.query_settings(),
        )
    for name, outcome in outcomes.items():
        yield check_result(name, outcome)
