"""The Feast feature store as a resource: apply the repo and run point-in-time joins."""

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import yaml
from dagster import ConfigurableResource
from pydantic import Field

from training_assets import orders, paths

if TYPE_CHECKING:
    from feast import FeatureStore
    from feast.repo_contents import RepoContents


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

    def resolved_repo_path(self) -> Path:
        return Path(self.repo_path).resolve() if self.repo_path else paths.FEATURE_REPO

    def resolved_driver_stats_path(self) -> Path:
        if self.driver_stats_path:
            return Path(self.driver_stats_path).resolve()
        return paths.default_driver_stats_path()

    def driver_stats_hash(self) -> str:
        """Data version of the feature file: a hash of its bytes."""
        return orders.content_digest([self.resolved_driver_stats_path()])

    def store(self, coerce_tz_aware: bool | None = None) -> "FeatureStore":
        """A FeatureStore on the repo's yaml with this resource's locations.

        Args:
            coerce_tz_aware: Overrides the yaml's `coerce_tz_aware` when given.
        """
        # feast takes seconds to import; only the steps that use it pay for it.
        from feast import FeatureStore, RepoConfig

        repo = self.resolved_repo_path()
        raw = yaml.safe_load(os.path.expandvars((repo / "feature_store.yaml").read_text()))
        feast_dir = paths.default_feast_dir()
        registry = Path(self.registry_path or feast_dir / "registry.db").resolve()
        online = Path(self.online_store_path or feast_dir / "online_store.db").resolve()
        registry.parent.mkdir(parents=True, exist_ok=True)
        online.parent.mkdir(parents=True, exist_ok=True)
        raw["registry"] = str(registry)
        raw["online_store"] = {**raw.get("online_store", {}), "path": str(online)}
        if coerce_tz_aware is not None:
            raw["coerce_tz_aware"] = coerce_tz_aware
        config = RepoConfig(**raw)
        config.repo_path = repo
        return FeatureStore(config=config)

    def apply(self) -> dict[str, Any]:
        """Apply the repo's definitions the way `feast apply` does, deleting stale objects.

        Returns:
            The names of the applied entities, feature views and feature services.
        """
        from feast.repo_operations import extract_objects_for_apply_delete

        store = self.store()
        contents = self._parse_repo()
        stats_path = self.resolved_driver_stats_path()
        for view in contents.feature_views:
            if view.batch_source is not None and hasattr(view.batch_source, "file_options"):
                view.batch_source.file_options.uri = str(stats_path)
        to_apply, to_delete, _, _ = extract_objects_for_apply_delete(
            store.project, store.registry, contents
        )
        store.apply(to_apply, objects_to_delete=to_delete, partial=False)
        return {
            "project": store.project,
            "entities": sorted(entity.name for entity in contents.entities),
            "feature_views": sorted(view.name for view in contents.feature_views),
            "feature_services": sorted(service.name for service in contents.feature_services),
            "driver_stats_path": str(stats_path),
            "registry": str(store.config.registry.path),
        }

    def historical_features(self, entity_df: pd.DataFrame, feature_service: str) -> pa.Table:
        """Point-in-time join of `entity_df` with the features that `feature_service` names.

        Returns:
            The joined rows as an Arrow table; Feast's `to_df` would copy them once more.
        """
        # Feast copies the whole entity frame to make its times UTC-aware. When they all are
        # UTC already, that copy changes nothing but costs memory, so it is skipped.
        already_utc = all(
            isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"
            for dtype in entity_df.dtypes
            if pd.api.types.is_datetime64_any_dtype(dtype)
        )
        store = self.store(coerce_tz_aware=False if already_utc else None)
        service = store.get_feature_service(feature_service)
        return store.get_historical_features(entity_df=entity_df, features=service).to_arrow()

    def _parse_repo(self) -> "RepoContents":
        from feast.repo_operations import parse_repo

        repo = self.resolved_repo_path()
        with _importable_repo(repo):
            return parse_repo(repo)


@contextlib.contextmanager
def _importable_repo(repo: Path) -> Iterator[None]:
    """Make the repo's modules importable the way `feast apply` does, then undo it.

    Feast names repo modules relative to the working directory and imports them by those names,
    so it needs the repo as cwd and on sys.path. The modules are dropped afterwards so that a
    later apply, perhaps of another repo, imports fresh definitions.
    """
    before_modules = set(sys.modules)
    before_cwd = os.getcwd()
    sys.path.insert(0, str(repo))
    os.chdir(repo)
    try:
        yield
    finally:
        os.chdir(before_cwd)
        sys.path.remove(str(repo))
        repo_files = {str(path) for path in repo.glob("**/*.py")}
        for name in set(sys.modules) - before_modules:
            if getattr(sys.modules[name], "__file__", None) in repo_files:
                del sys.modules[name]
