"""The Feast feature store as a resource: apply the repo and run point-in-time joins."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
from dagster import ConfigurableResource, InitResourceContext, RetryRequested
from pydantic import Field
from upath import UPath

from training_assets.core import paths
from training_assets.core.data import locations
from training_assets.core.data.snapshot import Files
from training_assets.core.data.table_query import TableFile, TableQuery
from training_assets.core.features import feast_repo
from training_assets.core.schema import FEATURE_SERVICE, FeatureSource, TrainingSchema
from training_assets.core.timing import timed
from training_assets.defs import healing

if TYPE_CHECKING:
    from feast import FeatureStore


class FeastResource(ConfigurableResource):
    """A local Feast repo whose registry, online store and feature file can be moved by config.

    The repo itself is code, so it is not run config: it is `$TRAINING_ASSETS_FEATURE_REPO` in
    the code location's environment, else the project's `feature_repo/`.

    `feature_store.yaml` in the repo stays the source of truth for everything else (project,
    provider, offline store), so `feast` on the command line and the pipeline agree.
    """

    registry_path: str | None = Field(
        default=None, description="Registry file. Default: <working area>/feast/registry.db."
    )
    online_store_path: str | None = Field(
        default=None,
        description="Sqlite online store file. Default: <working area>/feast/online_store.db.",
    )
    driver_stats_path: str | None = Field(
        default=None,
        description=(
            "Parquet file of driver stats: a local path or an fsspec URL such as "
            "s3://bucket/driver_stats.parquet. Default: <working area>/data/driver_stats.parquet."
        ),
    )

    feature_service: str = Field(
        default=FEATURE_SERVICE,
        description=(
            "The FeatureService in the repo whose features the model is trained on, in its "
            "order, with their declared types and the ranges in their `min`/`max` tags."
        ),
    )
    filter_by_created_timestamp: bool = Field(
        default=False,
        description=(
            "Join each order only with feature rows created at or before it, so that a late "
            "correction or backfill is not used as if it had been known at prediction time."
        ),
    )

    join_slice_rows: int = Field(
        default=10_000_000,
        ge=1,
        description=(
            "Orders joined per point-in-time join call when building the training table: the "
            "step's memory is one slice's, and the table is written slice after slice. Joining "
            "in slices gives the same rows as joining at once."
        ),
    )
    always_apply: bool = Field(
        default=False,
        description=(
            "Apply the feature repo on every run. By default it is applied only when its "
            "definitions, settings or feature file location differ from what the registry holds."
        ),
    )
    service_retries: int = Field(
        default=2,
        ge=0,
        description=(
            "Times a step that could not reach the registry database or the Redis online store "
            "(refused, timed out, connection lost) is tried again before it fails."
        ),
    )
    service_retry_wait_s: float = Field(
        default=10.0, ge=0, description="Seconds between those tries."
    )

    @contextmanager
    def retried_on_outage(self) -> Iterator[None]:
        """Ask Dagster to run the step again when a Feast service is unreachable; the step's
        retries show in the UI and the last failure keeps the service's own error."""
        try:
            yield
        except feast_repo.service_outage_errors() as error:
            if not feast_repo.is_service_outage(error):
                raise
            raise RetryRequested(
                max_retries=self.service_retries, seconds_to_wait=self.service_retry_wait_s
            ) from error

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # The first step of a training run uses this resource: the run records its process.
        if context.instance is not None and context.run is not None:
            healing.claim_run(context.instance, context.run.run_id)

    def resolved_repo_path(self) -> Path:
        return paths.feature_repo()

    def resolved_driver_stats_path(self) -> UPath:
        return locations.resolve(self.driver_stats_path or paths.default_driver_stats_path())

    def driver_stats_listed(self) -> Files:
        """The feature file as it is now: its digest is the file's data version."""
        path = self.resolved_driver_stats_path()
        return Files.listed(path, [path])

    def store(
        self, coerce_tz_aware: bool | None = None, provenance: bool = False
    ) -> "FeatureStore":
        """A FeatureStore on the repo's yaml with this resource's locations.

        Args:
            coerce_tz_aware: Overrides the yaml's `coerce_tz_aware` when given.
            provenance: Ask the offline store for the matched rows' own times.
        """
        return feast_repo.working_area_store(
            registry=self.registry_path,
            online_store=self.online_store_path,
            coerce_tz_aware=coerce_tz_aware,
            provenance=provenance,
        )

    def apply(self) -> dict[str, Any]:
        """Apply the repo's definitions the way `feast apply` does, deleting stale objects.

        Returns:
            The names of the applied entities, feature views and feature services.
        """
        return feast_repo.apply_repo(
            self.store(),
            self.resolved_repo_path(),
            self.resolved_driver_stats_path(),
            force=self.always_apply,
        )

    def materialize_online(self) -> list[dict[str, Any]]:
        """Load the newest values of the configured service's features into the online store:
        a view's whole range the first time, then what is new since the last load."""
        return feast_repo.materialize_online(self.store(), self.feature_service)

    def training_schema(self) -> TrainingSchema:
        """The features of the configured service as the applied registry holds them."""
        return feast_repo.applied_schema(self.store(), self.feature_service)

    def feature_sources(self) -> list[FeatureSource]:
        """The files the configured service's views read, as the applied registry names them."""
        return feast_repo.feature_sources(self.store(), self.feature_service)

    def query_settings(self) -> dict[str, str | None]:
        """The offline store's DuckDB memory limit and spill directory, so that one setting
        bounds every DuckDB query of a run."""
        offline = self.store().config.offline_store
        return {
            "memory_limit": getattr(offline, "memory_limit", None),
            "temp_directory": getattr(offline, "temp_directory", None),
        }

    def table_query(self, table: TableFile) -> TableQuery:
        """SQL on a table's parquet file under `query_settings`."""
        return TableQuery(table, **self.query_settings())

    @timed("historical_features")
    def historical_features(self, entity_df: pd.DataFrame) -> pa.Table:
        """Point-in-time join of `entity_df` with the configured service's features, with the
        matched rows' provenance, as an Arrow table."""
        # Feast's tz coercion would only copy a frame whose times are all UTC already.
        store = self.store(
            coerce_tz_aware=False if feast_repo.times_are_utc(entity_df) else None,
            provenance=True,
        )
        return feast_repo.historical_table(
            store, entity_df, self.feature_service, self.filter_by_created_timestamp
        )
