"""Where the orders (labels) live: a resource so that run config can point at other files."""

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field
from upath import UPath

from training_assets.core import paths
from training_assets.core.data import fingerprints, locations, orders
from training_assets.core.data.snapshot import Files


class OrdersSource(ConfigurableResource):
    """The orders location: a parquet file, or a folder that new parquet files are dropped into."""

    orders_path: str | None = Field(
        default=None,
        description=(
            "File or folder of parquet, CSV or TSV files with event_timestamp, driver_id and "
            "trip_completed: a local path or an fsspec URL such as s3://bucket/orders/. "
            "Default: the folder <working area>/data/orders/."
        ),
    )

    # No `ge=1` here: Dagster stands an environment variable's value in as 0 until launch;
    # a window of under one day is refused when the orders are read.
    training_window_days: int | None = Field(
        default=None,
        description=(
            "Train on the orders of the newest this many days only (event time within this "
            "many days of the newest order's), so that a model retrained after the world "
            "changed learns the new relation rather than years of the old one. Unset: every "
            "order. The environment's TRAINING_ASSETS_TRAINING_WINDOW_DAYS sets it."
        ),
    )

    def location(self) -> UPath:
        if self.orders_path:
            return locations.resolve(self.orders_path)
        return locations.resolve(paths.default_orders_path())

    def training_digest(self, orders_version: str, stats_version: str) -> str:
        """The data version of a training table: the files' versions, and the window when one
        is set (the same files under another window are other data)."""
        window = self.training_window_days
        extra = [f"training window: {window} days"] if window is not None else []
        return fingerprints.combined_digest(orders_version, stats_version, *extra)

    def read(self) -> pd.DataFrame:
        return orders.read_orders(self.location())

    def listed(self) -> Files:
        """The orders files as they are now, listed once: the value a step digests and reads,
        so it never lists the location again."""
        return orders.list_orders(self.location())

    def count(self) -> int:
        """How many orders a training run joins: every order, or those of the window (read
        again here, so the row-count gate counts them apart from the join)."""
        if self.training_window_days is None:
            return orders.count_orders(self.location())
        window = orders.open_orders(self.location()).window(self.training_window_days)
        return sum(table.num_rows for table in window.tables())
