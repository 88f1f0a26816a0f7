"""Data gates on the training table: schema, labels, nulls and row counts.

They run as one multi-check so the table is loaded once, and each property is reported as its
own blocking check, so the UI names the one that failed.
"""

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, multi_asset_check

from training_assets import validation
from training_assets.checks import check_result_kwargs
from training_assets.config import GateThresholds
from training_assets.resources.orders import OrdersSource

_GATES = {
    "no_unexpected_columns": "Only the schema's key, feature and label columns are present.",
    "expected_columns_with_dtypes": "Every schema column is present with its schema dtype.",
    "labels_are_binary": "trip_completed is 0 or 1 on every row, never null.",
    "feature_nulls_within_rate": "No feature is null on more rows than the configured rate.",
    "row_count_at_least_minimum": "The table has at least the configured number of rows.",
    "row_count_matches_orders": "The join kept every order exactly once.",
    "feature_values_in_range": "Rates lie in [0, 1] and trips are not negative.",
    "features_not_from_the_future": "No order was joined with a stats row stamped after it.",
}
# Duplicates may be real (two orders in one second); they warn and do not block.
_WARNINGS = {
    "duplicate_rows_within_rate": "Few rows repeat (driver_id, event_timestamp, label).",
}


@multi_asset_check(
    specs=[
        AssetCheckSpec(name, asset="training_data", blocking=True, description=description)
        for name, description in _GATES.items()
    ]
    + [
        AssetCheckSpec(name, asset="training_data", blocking=False, description=description)
        for name, description in _WARNINGS.items()
    ],
)
def training_data_gates(
    training_data: pd.DataFrame, gates: GateThresholds, orders_source: OrdersSource
):
    """The training table fits the schema, has valid labels and values, one row per order and
    no feature from an order's future."""
    outcomes = {
        "no_unexpected_columns": validation.no_unexpected_columns(training_data),
        "expected_columns_with_dtypes": validation.expected_columns_with_dtypes(training_data),
        "labels_are_binary": validation.labels_are_binary(training_data),
        "feature_nulls_within_rate": validation.feature_nulls_within_rate(
            training_data, gates.max_feature_null_rate
        ),
        "row_count_at_least_minimum": validation.row_count_at_least(training_data, gates.min_rows),
        "row_count_matches_orders": validation.row_count_matches_orders(
            training_data, orders_source.count()
        ),
        "feature_values_in_range": validation.feature_values_in_range(training_data),
        "features_not_from_the_future": validation.features_not_from_the_future(training_data),
        "duplicate_rows_within_rate": validation.duplicate_rows_within_rate(
            training_data, gates.max_duplicate_rate
        ),
    }
    for name, outcome in outcomes.items():
        yield AssetCheckResult(
            asset_key="training_data",
            check_name=name,
            **check_result_kwargs(outcome, warn_only=name in _WARNINGS),
        )
