"""Where batch scoring requests land: a resource so that run config can point elsewhere."""

from dagster import ConfigurableResource
from pydantic import Field
from upath import UPath

from training_assets.core import paths
from training_assets.core.data import locations, orders
from training_assets.core.data.snapshot import Files


class BatchRequests(ConfigurableResource):
    """The rows to score: a file, or a folder that request files are dropped into."""

    requests_path: str | None = Field(
        default=None,
        description=(
            "File or folder of parquet, CSV or TSV files with event_timestamp and driver_id "
            "(the course's batch request format): a local path or an fsspec URL. "
            "Default: the folder <working area>/data/batch_requests/."
        ),
    )

    def location(self) -> UPath:
        return locations.resolve(self.requests_path or paths.default_batch_requests_path())

    def listed(self) -> Files:
        """The request files as they are now, listed once: the value a run or a sensor tick
        reads, digests and names, so what it scored is what it says it scored."""
        return orders.list_orders(self.location())
