"""The Feast repo as plain functions: open a FeatureStore on the repo's yaml with its files
moved, apply the repo as `feast apply` does, and run point-in-time joins into Arrow tables.

No Dagster here: `FeastResource` wires these to config, and the benchmark's plain script calls
them directly. Feast takes seconds to import, so it is imported inside the functions and only
the work that uses it pays for it.
"""

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from feast_asof import times
from feast_asof.files import check_parquet_columns, view_column_roles
from training_assets.core import paths, settings, timing
from training_assets.core.data import locations
from training_assets.core.schema import (
    MAX_TAG,
    MIN_TAG,
    FeatureSource,
    FeatureSpec,
    TrainingSchema,
    parse_bound,
)
from training_assets.core.secrets import redact_uri
from training_assets.core.timing import timed

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore, FeatureView
    from feast.repo_contents import RepoContents


FEATURE_STORE_YAML_ENV = settings.FEATURE_STORE_YAML_ENV


def feature_store_yaml(repo: Path) -> Path:
    """The repo's settings file: `$FEAST_FS_YAML_FILE_PATH` (Feast's own variable, which a
    production profile sets), else `feature_store.yaml` in the repo."""
    return settings.feature_store_yaml() or repo / "feature_store.yaml"


def feature_store(
    repo: Path,
    registry: Path,
    online_store: Path,
    coerce_tz_aware: bool | None = None,
    provenance: bool = False,
    online_timeout_s: float | None = None,
) -> "FeatureStore":
    """A FeatureStore on the repo's settings, with `${VAR}`s taken from the environment.

    The embedded defaults (a registry file, a sqlite online store) move to `registry` and
    `online_store`, so that state lives in the working area; a SQL registry, a Redis online
    store or any other store the settings name is used as it is.

    Args:
        coerce_tz_aware: Overrides the yaml's `coerce_tz_aware` when given.
        provenance: Ask the ASOF offline store for the matched rows' own timestamps and created
            times; a store of another type has no such option and is left as it is.
        online_timeout_s: Seconds a Redis online store may take to connect and to answer, with
            no retry, overriding the settings' own (see fail_fast_redis).
    """
    from feast import FeatureStore, RepoConfig

    raw = yaml.safe_load(settings.expand(feature_store_yaml(repo).read_text()))
    if _is_file_registry(raw.get("registry")):
        registry.parent.mkdir(parents=True, exist_ok=True)
        configured = raw.get("registry")
        raw["registry"] = (
            {**configured, "path": str(registry)} if isinstance(configured, dict) else str(registry)
        )
    online = raw.get("online_store") or {}
    if isinstance(online, str):
        online = {"type": online}
    if online.get("type", "sqlite") == "sqlite":
        online_store.parent.mkdir(parents=True, exist_ok=True)
        raw["online_store"] = {**online, "type": "sqlite", "path": str(online_store)}
    if online_timeout_s is not None and online.get("type") == "redis":
        connection = fail_fast_redis(online.get("connection_string", ""), online_timeout_s)
        raw["online_store"] = {**online, "connection_string": connection}
    if coerce_tz_aware is not None:
        raw["coerce_tz_aware"] = coerce_tz_aware
    offline = raw.get("offline_store") or {}
    if str(offline.get("type", "")).endswith(".AsofDuckDBOfflineStore"):
        raw["offline_store"] = _asof_settings(offline, provenance)
    config = RepoConfig(**raw)
    config.repo_path = repo
    return FeatureStore(config=config)


def _asof_settings(offline: dict, provenance: bool) -> dict:
    """The ASOF store's settings as the pipeline runs it: spilling into the working area unless
    the yaml says where, with provenance columns when asked, and its join timed as the
    `asof_join` stage of `timing`, which the benchmark reads."""
    from feast_asof import store

    if timing.record not in store.stage_listeners:
        store.stage_listeners.append(timing.record)
    spill = {"temp_directory": str(paths.working_area() / "duckdb_tmp")}
    return {**spill, **offline, **({"provenance_columns": True} if provenance else {})}


def working_area_store(
    registry: str | Path | None = None,
    online_store: str | Path | None = None,
    coerce_tz_aware: bool | None = None,
    provenance: bool = False,
    online_timeout_s: float | None = None,
) -> "FeatureStore":
    """`feature_store` on the project's repo (`paths.feature_repo`), with the embedded
    defaults' registry and sqlite files in the working area's `feast/` unless given: the store
    the pipeline, the predict command and the server all open."""
    feast_dir = paths.default_feast_dir()
    return feature_store(
        paths.feature_repo(),
        registry=Path(registry or feast_dir / "registry.db").resolve(),
        online_store=Path(online_store or feast_dir / "online_store.db").resolve(),
        coerce_tz_aware=coerce_tz_aware,
        provenance=provenance,
        online_timeout_s=online_timeout_s,
    )


# Parameters of a Redis connection string that set how long a dead server may hold a call.
_REDIS_WAIT_PARAMETERS = ("socket_timeout", "socket_connect_timeout", "retry")


def fail_fast_redis(connection_string: str, timeout_s: float) -> str:
    """Feast's Redis `connection_string` with connect and reply timeouts of `timeout_s` and no
    retry, so that a Redis that is down or stopped answering fails a read within the timeout.

    redis-py 8 retries a failed connect or read three times with a backoff of up to seconds
    by default; Feast's parser JSON-decodes each value, so `retry=null` reaches redis-py as
    None, which with no errors to retry on means no retry."""
    kept = [
        part
        for part in connection_string.split(",")
        if part.split("=", 1)[0].strip() not in _REDIS_WAIT_PARAMETERS
    ]
    timeouts = [f"socket_connect_timeout={timeout_s}", f"socket_timeout={timeout_s}"]
    return ",".join([*kept, *timeouts, "retry=null"])


def service_outage_errors() -> tuple[type[BaseException], ...]:
    """The errors of a registry database or Redis online store that could not be reached,
    refused the connection or stopped answering: worth trying again.

    SQLAlchemy's OperationalError also covers a refused login or a missing table, which a
    retry does not mend; those fail after the retries with the same error. Redis's refused
    login (AuthenticationError) is not retried.
    """
    from sqlalchemy.exc import DisconnectionError, OperationalError

    errors: tuple[type[BaseException], ...] = (OperationalError, DisconnectionError)
    try:
        from redis.exceptions import ConnectionError, TimeoutError
    except ImportError:  # Redis is the production extra's
        return errors
    return (*errors, ConnectionError, TimeoutError)


def is_service_outage(error: BaseException) -> bool:
    """Whether `error` is a Feast service outage worth retrying (see service_outage_errors)."""
    try:
        from redis.exceptions import AuthenticationError
    except ImportError:
        AuthenticationError = ()  # noqa: N806 (no Redis installed: nothing to exclude)
    return isinstance(error, service_outage_errors()) and not isinstance(error, AuthenticationError)


def _is_file_registry(settings) -> bool:
    """Whether the registry settings name a registry file (Feast's default), not SQL or a
    remote registry."""
    if settings is None or isinstance(settings, str):
        return settings is None or "://" not in settings or settings.startswith("file://")
    kind = str(settings.get("registry_type", "file"))
    return kind == "file" and "://" not in str(settings.get("path", ""))


# Tag on every applied FeatureService: the digest of the definitions and settings applied, so
# that an unchanged repo is not applied again (and a registry that lacks it, new or wiped, is).
REPO_DIGEST_TAG = "training_assets.repo_digest"


def repo_digest(repo: Path, driver_stats) -> str:
    """A SHA-256 of what `feast apply` would read from `repo` (each file by relative path and
    bytes, `.feastignore` honoured), the settings file, and the feature file's location."""
    from feast.repo_operations import get_repo_files

    digest = hashlib.sha256()
    for path in sorted(get_repo_files(repo)):
        digest.update(str(Path(path).relative_to(repo)).encode())
        digest.update(Path(path).read_bytes())
    digest.update(feature_store_yaml(repo).read_bytes())
    digest.update(str(driver_stats).encode())
    return digest.hexdigest()


@timed("feast apply")
def apply_repo(
    store: "FeatureStore", repo: Path, driver_stats: Path, force: bool = False
) -> dict[str, Any]:
    """Apply `repo`'s definitions the way `feast apply` does, deleting stale objects, with the
    feature views' file sources pointed at `driver_stats`; skipped when the registry already
    holds exactly these definitions (`applied` False), unless `force`.

    Returns:
        The names of the applied entities, feature views and feature services, whether they
        were applied now, and the repo digest.
    """
    from feast.repo_operations import extract_objects_for_apply_delete

    digest = repo_digest(repo, driver_stats)
    if not force and _applied_digest(store) == digest:
        entities, views = store.list_entities(), store.list_feature_views()
        # The registry is unchanged, but the online store may be new or moved (another
        # sqlite file, another Redis): its tables are made as `feast apply` makes them, which
        # for existing tables does nothing.
        store.provider.update_infra(
            project=store.project,
            tables_to_delete=[],
            tables_to_keep=views,
            entities_to_delete=[],
            entities_to_keep=entities,
            partial=True,
        )
        return {
            **_names(entities, views, store.list_feature_services()),
            **_record(store, driver_stats, digest, applied=False),
        }
    contents = load_repo(repo)
    for view in contents.feature_views:
        if view.batch_source is not None and hasattr(view.batch_source, "file_options"):
            view.batch_source.file_options.uri = str(driver_stats)
    for service in contents.feature_services:
        service.tags = {**service.tags, REPO_DIGEST_TAG: digest}
    to_apply, to_delete, _, _ = extract_objects_for_apply_delete(
        store.project, store.registry, contents
    )
    store.apply(to_apply, objects_to_delete=to_delete, partial=False)
    return {
        **_names(contents.entities, contents.feature_views, contents.feature_services),
        **_record(store, driver_stats, digest, applied=True),
    }


def _applied_digest(store: "FeatureStore") -> str | None:
    """The repo digest every applied FeatureService carries, or None (none applied yet, or
    applied by something else)."""
    try:
        services = store.list_feature_services()
    except Exception:  # a registry that cannot be read yet is applied to, which says why
        return None
    digests = {service.tags.get(REPO_DIGEST_TAG) for service in services}
    return digests.pop() if len(digests) == 1 else None


def _names(entities, views, services) -> dict[str, Any]:
    from feast.feature_view import DUMMY_ENTITY_NAME

    return {
        # Feast's placeholder entity of entityless views is applied but never listed.
        "entities": sorted(entity.name for entity in entities if entity.name != DUMMY_ENTITY_NAME),
        "feature_views": sorted(view.name for view in views),
        "feature_services": sorted(service.name for service in services),
    }


def _record(store: "FeatureStore", driver_stats, digest: str, applied: bool) -> dict[str, Any]:
    return {
        "project": store.project,
        "driver_stats_path": redact_uri(str(driver_stats)),
        # A SQL registry's path is a database URL, which may name its password.
        "registry": redact_uri(str(store.config.registry.path)),
        "repo_digest": digest,
        "applied": applied,
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
) -> pa.Table:
    """Point-in-time join of `entity_df` with the features that `feature_service` names.

    Args:
        filter_by_created_timestamp: Join only feature rows created at or before each entity
            row's time, so that a later correction is not used before it existed.

    Returns:
        The joined rows as an Arrow table (Feast's `to_df` would copy them once more).
    """
    job = store.get_historical_features(
        entity_df=entity_df,
        features=store.get_feature_service(feature_service),
        filter_by_created_timestamp=filter_by_created_timestamp,
    )
    return job.to_arrow()


def applied_schema(store: "FeatureStore", feature_service: str) -> TrainingSchema:
    """The training schema of `feature_service` as the store's registry holds it.

    Raises:
        ValueError: naming the service and the registry when the service is not applied.
    """
    from feast.errors import FeatureServiceNotFoundException

    try:
        service = store.get_feature_service(feature_service)
    except FeatureServiceNotFoundException:
        applied = sorted(s.name for s in store.list_feature_services())
        raise ValueError(
            f"feature service {feature_service!r} is not in the registry at "
            f"{redact_uri(str(store.config.registry.path))}; applied services: {applied}. "
            "Materialize feature_store, or name one of these in the feast resource's "
            "feature_service."
        ) from None
    return training_schema(service)


def training_schema(service: "FeatureService") -> TrainingSchema:
    """The model's inputs as `service` names them: each feature's name, its declared type as a
    pandas dtype, its description and its valid range from the field's `min`/`max` tags.

    Raises:
        ValueError: naming the feature when its type is not numeric or a range tag is not a
            number, and the service when it names no feature.
    """
    from feast.type_map import feast_value_type_to_pa

    features = []
    for projection in service.feature_view_projections:
        for field in projection.features:
            declared = feast_value_type_to_pa(field.dtype.to_value_type())
            if not (pa.types.is_integer(declared) or pa.types.is_floating(declared)):
                raise ValueError(
                    f"feature {projection.name_to_use()}:{field.name} of service "
                    f"{service.name!r} is {field.dtype}; the model takes numeric features "
                    "(Float32, Float64, Int32, Int64)"
                )
            features.append(
                FeatureSpec(
                    name=field.name,
                    dtype=str(np.dtype(declared.to_pandas_dtype())),
                    minimum=parse_bound(field.name, MIN_TAG, field.tags.get(MIN_TAG)),
                    maximum=parse_bound(field.name, MAX_TAG, field.tags.get(MAX_TAG)),
                    description=field.description,
                )
            )
    if not features:
        raise ValueError(f"feature service {service.name!r} names no features")
    return TrainingSchema(service.name, tuple(features))


def feature_sources(store: "FeatureStore", feature_service: str) -> list[FeatureSource]:
    """The files that the views of `feature_service` read, with their time columns as the
    files name them, in the service's order; a view whose source is not a file is left out.
    """
    from feast.infra.offline_stores.file_source import FileSource

    sources = []
    for projection in store.get_feature_service(feature_service).feature_view_projections:
        source = store.get_feature_view(projection.name).batch_source
        if not isinstance(source, FileSource):
            continue
        # The view's names, as the offline stores map them back to the file's columns.
        in_file = {name: column for column, name in source.field_mapping.items()}
        created = source.created_timestamp_column
        view = store.get_feature_view(projection.name)
        sources.append(
            FeatureSource(
                view=projection.name,
                path=FileSource.get_uri_for_file_path(str(store.config.repo_path), source.path),
                timestamp=in_file.get(source.timestamp_field, source.timestamp_field),
                created=in_file.get(created, created) if created else None,
                keys=tuple(in_file.get(key.name, key.name) for key in view.entity_columns),
            )
        )
    return sources


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


@timed("feast materialize")
def materialize_online(store: "FeatureStore", feature_service: str) -> list[dict[str, Any]]:
    """Load the latest feature values of `feature_service`'s views into the online store, and
    mark each view loaded in the store itself (see load_marker).

    What to load is decided from what the online store holds, not only from the registry. A
    view the registry has never seen loaded is loaded over its data's whole range (Feast's
    `materialize_incremental` would start at now minus the view's TTL and miss older data). A
    view the registry says was loaded but whose store holds no marker has lost its data (a
    Redis restarted empty, flushed or replaced, a deleted sqlite file) and is reloaded in full,
    as is one whose marker the skew check withdrew. Otherwise the load goes on from where the
    store's marker says its data ends; a view whose data holds nothing newer is left as it is,
    its marker renewed.

    Returns:
        Per view: its name, the range loaded (`start`, `end`, ISO 8601, or None when nothing
        was loaded) and `how`: "initial", "incremental", "up to date", "reload: store lost
        its data" or "reload: <why the marker was withdrawn>".
    """
    from training_assets.core.features import load_marker

    service = store.get_feature_service(feature_service)
    loaded = []
    for projection in service.feature_view_projections:
        view = store.get_feature_view(projection.name)
        # Feast's own reader would fail on a missing column without naming the file.
        check_source_columns(view)
        first, last = source_time_range(view.batch_source)
        marker = load_marker.read_marker(store, view)
        how, start = _load_plan(view, marker, first)
        if last is None or (how == "incremental" and last <= start):
            if marker is not None and marker.data_end is not None:
                load_marker.write_marker(store, view, marker.data_end)
            loaded.append({"view": view.name, "start": None, "end": None, "how": "up to date"})
            continue
        if how != "incremental":
            _empty_online_view(store, view)
        store.materialize(start_date=start, end_date=last, feature_views=[view.name])
        load_marker.write_marker(store, view, last)
        loaded.append(
            {"view": view.name, "start": start.isoformat(), "end": last.isoformat(), "how": how}
        )
    return loaded


def _load_plan(view, marker, first) -> tuple[str, Any]:
    """How to load `view` given its marker in the online store, and from when."""
    if view.most_recent_end_time is None:
        return "initial", first
    if marker is None:
        return "reload: store lost its data", first
    if marker.withdrawn:
        return f"reload: {marker.withdrawn_because or 'marker withdrawn'}", first
    return "incremental", marker.data_end


def _empty_online_view(store: "FeatureStore", view) -> None:
    """Remove the view's rows from the online store and make its tables anew, as `feast
    apply` makes them, before a full load.

    Whatever the store kept is not trusted (a store that lost part of its data, a value the
    skew check found wrong), and Redis would keep a kept value over a loaded one of the same
    event time. A store that lost its tables with its data (a new sqlite file) gets them back.
    """
    provider = store.provider
    entities = store.list_entities()
    # Two calls: sqlite makes the tables to keep before it drops the tables to delete.
    for delete, keep in (([view], []), ([], [view])):
        provider.update_infra(
            project=store.project,
            tables_to_delete=delete,
            tables_to_keep=keep,
            entities_to_delete=[],
            entities_to_keep=entities,
            partial=True,
        )


def check_source_columns(view: "FeatureView") -> None:
    """Check, from its footer, that the view's parquet file holds every column the view reads.

    Raises:
        feast_asof.files.MissingColumnsError: naming the file and each missing column.
        locations.LocationError: for an object store that found no credentials.
    """
    source = view.batch_source
    to_column = {name: column for column, name in source.field_mapping.items()}
    keys = {key.name: to_column.get(key.name, key.name) for key in view.entity_columns}
    features = {f.name: to_column.get(f.name, f.name) for f in view.features}
    created = source.created_timestamp_column or None
    roles = view_column_roles(
        view.name,
        keys,
        features,
        to_column.get(source.timestamp_field, source.timestamp_field),
        to_column.get(created, created) if created else None,
    )
    with locations.accessing(source.path):
        check_parquet_columns(locations.resolve(source.path), roles)


def source_time_range(source) -> tuple[Any, Any]:
    """The first and last event time in a view's parquet source, as UTC datetimes; (None,
    None) for a source with no rows. Only the time column is read."""
    column = locations.read_parquet(source.path, columns=[source.timestamp_field]).column(0)
    # Feast's offline writes store times as ISO 8601 text.
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = times.utc_instants(column)
    extremes = pc.min_max(column.cast(pa.timestamp("ns", tz="UTC")))
    if not extremes["min"].is_valid:
        return None, None
    return (
        pd.Timestamp(extremes["min"].value, tz="UTC").to_pydatetime(),
        pd.Timestamp(extremes["max"].value, tz="UTC").to_pydatetime(),
    )
