"""The Feast feature store as a resource: apply the repo and run point-in-time joins."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
from dagster import ConfigurableResource
from pydantic import Field

from training_assets.core import paths
from training_assets.core.data import fingerprints
from training_assets.core.features import feast_repo
from training_assets.core.timing import timed

if TYPE_CHECKING:
    from feast import FeatureStore


class FeastResource(ConfigurableResource):
    """A local Feast repo whose registry, online store and feature file can be moved by config.

    `feature_store.yaml` in the repo stays the source of truth for everything else (project,
    provider, offline store), so `feast` on the command line and the pipeline agree.
    """

    repo_path: str | None = Field(
        default=None, description="Feast repo directory. Default: the project's feature_repo/."
    )
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
            "Parquet file of driver stats. Default: <working area>/data/driver_stats.parquet."
        ),
    )

    filter_by_created_timestamp: bool = Field(
        default=False,
        description=(
            "Join each order only with feature rows created at or before it, so that a late "
            "correction or backfill is not used as if it had been known at prediction time."
        ),
    )

    def resolved_repo_path(self) -> Path:
        return Path(self.repo_path).resolve() if self.repo_path else paths.FEATURE_REPO

    def resolved_driver_stats_path(self) -> Path:
        if self.driver_stats_path:
            return Path(self.driver_stats_path).resolve()
        return paths.default_driver_stats_path()

    def driver_stats_hash(self) -> str:
        """Data version of the feature file: a hash of its bytes."""
        return fingerprints.content_digest([self.resolved_driver_stats_path()])

    def store(
        self, coerce_tz_aware: bool | None = None, provenance: bool = False
    ) -> "FeatureStore":
        """A FeatureStore on the repo's yaml with this resource's locations.

        Args:
            coerce_tz_aware: Overrides the yaml's `coerce_tz_aware` when given.
            provenance: Ask the offline store for the matched rows' own times.
        """
        feast_dir = paths.default_feast_dir()
        return feast_repo.feature_store(
            self.resolved_repo_path(),
            registry=Path(self.registry_path or feast_dir / "registry.db").resolve(),
            online_store=Path(self.online_store_path or feast_dir / "online_store.db").resolve(),
            coerce_tz_aware=coerce_tz_aware,
            provenance=provenance,
        )

    def apply(self) -> dict[str, Any]:
        """Apply the repo's definitions the way `feast apply` does, deleting stale objects.

        Returns:
            The names of the applied entities, feature views and feature services.
        """
        return feast_repo.apply_repo(
            self.store(), self.resolved_repo_path(), self.resolved_driver_stats_path()
        )

    @timed("historical_features")
    def historical_features(
        self, entity_df: pd.DataFrame, feature_service: str
    ) -> tuple[pa.Table, dict[str, pa.DataType]]:
        """Point-in-time join of `entity_df` with the features that `feature_service` names,
        with the matched rows' provenance, as an Arrow table; and the features' declared types."""
        # Feast's tz coercion would only copy a frame whose times are all UTC already.
        store = self.store(
            coerce_tz_aware=False if feast_repo.times_are_utc(entity_df) else None,
            provenance=True,
        )
        return feast_repo.historical_table(
            store, entity_df, feature_service, self.filter_by_created_timestamp
        )
