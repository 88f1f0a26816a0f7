"""The Feast repo as plain functions: open a FeatureStore on the repo's yaml with its files
moved, apply the repo as `feast apply` does, and run point-in-time joins into Arrow tables.

No Dagster here: `FeastResource` wires these to config, and the benchmark's plain script calls
them directly. Feast takes seconds to import, so it is imported inside the functions and only
the work that uses it pays for it.
"""

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import yaml

if TYPE_CHECKING:
    from feast import FeatureStore


def feature_store(
    repo: Path, registry: Path, online_store: Path, coerce_tz_aware: bool | None = None
) -> "FeatureStore":
    """A FeatureStore on `repo`'s feature_store.yaml with the registry and online store moved.

    Args:
        coerce_tz_aware: Overrides the yaml's `coerce_tz_aware` when given.
    """
    from feast import FeatureStore, RepoConfig

    raw = yaml.safe_load(os.path.expandvars((repo / "feature_store.yaml").read_text()))
    registry.parent.mkdir(parents=True, exist_ok=True)
    online_store.parent.mkdir(parents=True, exist_ok=True)
    raw["registry"] = str(registry)
    raw["online_store"] = {**raw.get("online_store", {}), "path": str(online_store)}
    if coerce_tz_aware is not None:
        raw["coerce_tz_aware"] = coerce_tz_aware
    config = RepoConfig(**raw)
    config.repo_path = repo
    return FeatureStore(config=config)


def apply_repo(store: "FeatureStore", repo: Path, driver_stats: Path) -> dict[str, Any]:
    """Apply `repo`'s definitions the way `feast apply` does, deleting stale objects, with the
    feature views' file sources pointed at `driver_stats`.

    Returns:
        The names of the applied entities, feature views and feature services.
    """
    from feast.repo_operations import extract_objects_for_apply_delete, parse_repo

    with _importable_repo(repo):
        contents = parse_repo(repo)
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
    store: "FeatureStore", entity_df: pd.DataFrame, feature_service: str
) -> pa.Table:
    """Point-in-time join of `entity_df` with the features that `feature_service` names.

    Returns:
        The joined rows as an Arrow table; Feast's `to_df` would copy them once more.
    """
    service = store.get_feature_service(feature_service)
    return store.get_historical_features(entity_df=entity_df, features=service).to_arrow()


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
