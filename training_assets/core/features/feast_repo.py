"""The Feast repo as plain functions: open a FeatureStore on the repo's yaml with its files
moved, apply the repo as `feast apply` does, and run point-in-time joins into Arrow tables.

No Dagster here: `FeastResource` wires these to config, and the benchmark's plain script calls
them directly. Feast takes seconds to import, so it is imported inside the functions and only
the work that uses it pays for it.
"""

import hashlib
import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import yaml

from training_assets.core.timing import timed

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore
    from feast.repo_contents import RepoContents


def feature_store(
    repo: Path,
    registry: Path,
    online_store: Path,
    coerce_tz_aware: bool | None = None,
    provenance: bool = False,
) -> "FeatureStore":
    """A FeatureStore on `repo`'s feature_store.yaml with the registry and online store moved.

    Args:
        coerce_tz_aware: Overrides the yaml's `coerce_tz_aware` when given.
        provenance: Ask the ASOF offline store for the matched rows' own timestamps and created
            times; a store of another type has no such option and is left as it is.
    """
    from feast import FeatureStore, RepoConfig

    raw = yaml.safe_load(os.path.expandvars((repo / "feature_store.yaml").read_text()))
    registry.parent.mkdir(parents=True, exist_ok=True)
    online_store.parent.mkdir(parents=True, exist_ok=True)
    raw["registry"] = str(registry)
    raw["online_store"] = {**raw.get("online_store", {}), "path": str(online_store)}
    if coerce_tz_aware is not None:
        raw["coerce_tz_aware"] = coerce_tz_aware
    offline = raw.get("offline_store") or {}
    if provenance and str(offline.get("type", "")).endswith(".AsofDuckDBOfflineStore"):
        raw["offline_store"] = {**offline, "provenance_columns": True}
    config = RepoConfig(**raw)
    config.repo_path = repo
    return FeatureStore(config=config)


@timed("feast apply")
def apply_repo(store: "FeatureStore", repo: Path, driver_stats: Path) -> dict[str, Any]:
    """Apply `repo`'s definitions the way `feast apply` does, deleting stale objects, with the
    feature views' file sources pointed at `driver_stats`.

    Returns:
        The names of the applied entities, feature views and feature services.
    """
    from feast.repo_operations import extract_objects_for_apply_delete

    contents = load_repo(repo)
    for view in contents.feature_views:
        if view.batch_source is not None and hasattr(view.batch_source, "file_options"):
            view.batch_source.file_options.uri = str(driver_stats)
    to_apply, to_delete, _, _ = extract_objects_for_apply_delete(
        store.project, store.registry, contents
    )
    store.apply(to_apply, objects_to_delete=to_delete, partial=False)
    return {
        "project": store.project,
        "entities": sorted(entity.name for entity in contents.entities),
        "feature_views": sorted(view.name for view in contents.feature_views),
        "feature_services": sorted(service.name for service in contents.feature_services),
        "driver_stats_path": str(driver_stats),
        "registry": str(store.config.registry.path),
    }


def times_are_utc(entity_df: pd.DataFrame) -> bool:
    """Whether every timestamp column of `entity_df` is UTC already.

    Feast copies the whole entity frame to make its times UTC-aware; for such a frame the copy
    changes nothing, so `coerce_tz_aware` can be off.
    """
    return all(
        isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"
        for dtype in entity_df.dtypes
        if pd.api.types.is_datetime64_any_dtype(dtype)
    )


def historical_table(
    store: "FeatureStore",
    entity_df: pd.DataFrame,
    feature_service: str,
    filter_by_created_timestamp: bool = False,
) -> tuple[pa.Table, dict[str, pa.DataType]]:
    """Point-in-time join of `entity_df` with the features that `feature_service` names.

    Args:
        filter_by_created_timestamp: Join only feature rows created at or before each entity
            row's time, so that a later correction is not used before it existed.

    Returns:
        The joined rows as an Arrow table (Feast's `to_df` would copy them once more), and each
        feature's Arrow type as its feature view declares it.
    """
    service = store.get_feature_service(feature_service)
    job = store.get_historical_features(
        entity_df=entity_df,
        features=service,
        filter_by_created_timestamp=filter_by_created_timestamp,
    )
    return job.to_arrow(), declared_types(service)


def declared_types(service: "FeatureService") -> dict[str, pa.DataType]:
    """The Arrow type of each feature that `service` names, from its feature views' schemas."""
    from feast.type_map import feast_value_type_to_pa

    return {
        feature.name: feast_value_type_to_pa(feature.dtype.to_value_type())
        for projection in service.feature_view_projections
        for feature in projection.features
    }


def load_repo(repo: Path) -> "RepoContents":
    """The Feast objects that `feast apply` finds in `repo`, loaded from any working directory.

    Feast's own `parse_repo` names each module by its path relative to the working directory
    and imports it under that name, so it needs the repo as cwd, and changing the working
    directory of a process that runs sensors and steps in threads is not safe. Here each file
    that `feast apply` would read (`.feastignore` honoured) is executed from its path under a
    private module name, and its objects are collected as `parse_repo` collects them. The
    definitions must not import each other by bare module name; the repo keeps them in one
    module, as `feast init`'s template does.
    """
    from feast import Entity, FeatureService, FeatureView, OnDemandFeatureView, Project
    from feast.batch_feature_view import BatchFeatureView
    from feast.data_source import DataSource
    from feast.feature_view import DUMMY_ENTITY
    from feast.labeling.label_view import LabelView
    from feast.permissions.permission import Permission
    from feast.repo_contents import RepoContents
    from feast.repo_operations import get_repo_files
    from feast.stream_feature_view import StreamFeatureView

    contents = RepoContents(
        projects=[],
        data_sources=[],
        entities=[],
        feature_views=[],
        feature_services=[],
        on_demand_feature_views=[],
        stream_feature_views=[],
        label_views=[],
        permissions=[],
    )

    def add(items: list, obj) -> None:
        # By identity, as parse_repo does: an object imported into two modules counts once.
        if obj is not None and not any(obj is item for item in items):
            items.append(obj)

    for path in get_repo_files(repo):
        for obj in vars(_load_module(path)).values():
            if isinstance(obj, DataSource):
                add(contents.data_sources, obj)
                add(contents.data_sources, getattr(obj, "batch_source", None))
            elif isinstance(obj, StreamFeatureView):
                add(contents.stream_feature_views, obj)
                add(contents.data_sources, obj.batch_source)
                add(contents.data_sources, obj.stream_source)
            elif isinstance(obj, FeatureView | BatchFeatureView):
                add(contents.feature_views, obj)
                add(contents.data_sources, obj.batch_source)
                add(contents.data_sources, obj.stream_source)
            elif isinstance(obj, Entity):
                add(contents.entities, obj)
            elif isinstance(obj, FeatureService):
                add(contents.feature_services, obj)
            elif isinstance(obj, OnDemandFeatureView):
                add(contents.on_demand_feature_views, obj)
            elif isinstance(obj, LabelView):
                add(contents.label_views, obj)
                add(contents.data_sources, obj.source)
                add(contents.data_sources, getattr(obj.source, "batch_source", None))
            elif isinstance(obj, Permission):
                add(contents.permissions, obj)
            elif isinstance(obj, Project):
                add(contents.projects, obj)
    contents.entities.append(DUMMY_ENTITY)
    return contents


def _load_module(path: Path) -> ModuleType:
    """Execute the Python file at `path` as a module of its own, outside sys.modules."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(f"_feature_repo_{digest}_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load feature definitions from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
