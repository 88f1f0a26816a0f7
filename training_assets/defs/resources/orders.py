"""Where the orders (labels) live: a resource so that run config can point at other files."""

from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field

from training_assets.core import paths
from training_assets.core.data import fingerprints, orders


class OrdersSource(ConfigurableResource):
    """The orders location: a parquet file, or a folder that new parquet files are dropped into."""

    orders_path: str | None = Field(
        default=None,
        description=(
            "Parquet file or folder of parquet files with event_timestamp, driver_id and "
            "trip_completed. Default: the folder <working area>/data/orders/."
        ),
    )

    def location(self) -> Path:
        return Path(self.orders_path).resolve() if self.orders_path else paths.default_orders_path()

    def read(self) -> pd.DataFrame:
        return orders.read_orders(self.location())

    def count(self) -> int:
        return orders.count_orders(self.location())

    def files(self) -> list[Path]:
        """The orders files, in the order they are read."""
        return orders.order_files(self.location())

    def content_hash(self) -> str:
        return fingerprints.content_digest(self.files())
