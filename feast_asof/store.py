"""A Feast offline store whose point-in-time join is a DuckDB ASOF join.

Feast's `file` and `duckdb` stores join every entity row with every earlier feature row of its
entity and then rank the matches, so their work grows with rows × history. An ASOF join finds
each entity row's latest feature row directly, in time linear in the inputs.

Select it in `feature_store.yaml`:

    offline_store:
      type: feast_asof.store.AsofDuckDBOfflineStore
      memory_limit: 4GB            # optional
      temp_directory: /scratch     # optional; default a fresh directory under the system's
                                   # temporary directory, removed after each query

`get_historical_features` keeps Feast's semantics: the latest feature row stamped at or before
the entity row's time and within the view's TTL, ties on the timestamp broken by the latest
created timestamp (a row without one ranks below every row with one), several views per call,
`full_feature_names`, field mappings and join-key maps; tz-naive entity times are UTC. With
`filter_by_created_timestamp`, only feature rows created at or before the entity row's time
count, so a late correction is not seen before it was made; a row without a created timestamp
never counts. It returns one row per entity row, duplicates included, in the entity frame's order,
with Feast's column order and dtypes. A feature file is a local path or an fsspec URL.

With `provenance_columns: true` it also returns, per feature view, the matched row's own
timestamp and created timestamp (`__provenance__<view>__timestamp`, `__provenance__<view>__created`,
UTC), so that a point-in-time audit can compare them with the entity row's time.

Saved datasets work as in Feast's stores: `persist` writes the joined rows through the DuckDB
store's writer (`create_saved_dataset`, and the overwrite rule). Feature files that Feast's
writer appended to (`write_to_offline_store`, a push to the offline store) hold their times as
ISO 8601 text; the join reads text times as it reads timestamps.

The DuckDB store's own code still runs for materialization, `pull_latest_from_table_or_query`,
`pull_all_from_table_or_query` (which reads saved datasets back) and offline writes; the two
pulls read nanosecond timestamp columns (pandas' default in parquet, and what Feast's own data
generator writes) as microseconds, which the DuckDB store's time filter fails on otherwise. Its join
is used instead of the ASOF join, with a warning that names the reason, in exactly three cases:
a SQL-string entity frame, requested on-demand feature views, and a view whose source is not a
parquet FileSource.
"""

import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from feast.data_source import DataSource
from feast.feature_view import FeatureView

# _read_data_source and _write_data_source: how Feast's DuckDB store reads and writes a data
# source, module functions that are not public (Feast 0.67). There is no public API for either:
# DataSource has no reader, RetrievalJob.persist is what each store implements on its own, and
# OfflineStore.offline_write_batch takes a feature view, not a saved dataset's storage. This is
# the one place they are imported, so a Feast upgrade that renames them fails here, at import.
from feast.infra.offline_stores.duckdb import (
    DuckDBOfflineStore,
    DuckDBOfflineStoreConfig,
    _read_data_source,
    _write_data_source,
)
from feast.infra.offline_stores.file_source import FileSource
from feast.infra.offline_stores.ibis import (
    pull_all_from_table_or_query_ibis,
    pull_latest_from_table_or_query_ibis,
)
from feast.infra.offline_stores.offline_store import RetrievalJob, RetrievalMetadata
from feast.infra.offline_stores.offline_utils import infer_event_timestamp_from_entity_df
from feast.infra.registry.base_registry import BaseRegistry
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.repo_config import RepoConfig

from feast_asof import PROVENANCE_PREFIX, files, times

_ROW = "__asof_entity_row"
_TS = "__asof_ts"
_CREATED = "__asof_created"
_FILE_ROW = "__asof_file_row"
# The matched row's own timestamp; _TS is the time from which a row can be matched, which is
# later than its own timestamp when rows created after the entity row are filtered out.
_FTS = "__asof_feature_ts"
_RANK = "__asof_rank"
logger = logging.getLogger(__name__)

stage_listeners: list[Callable[[str, float], None]] = []
"""Each is called with a stage's name and its seconds as the store finishes it ("asof_join",
the join of one `get_historical_features` call), so that a benchmark can tell the join from
the rest of a call. None by default."""


class AsofDuckDBOfflineStoreConfig(DuckDBOfflineStoreConfig):
    """DuckDB store settings plus the ASOF join's memory budget and spill directory."""

    type: Literal["feast_asof.store.AsofDuckDBOfflineStore"] = (
        "feast_asof.store.AsofDuckDBOfflineStore"
    )
    memory_limit: str | None = None
    """DuckDB memory limit for the join, e.g. "4GB"; default DuckDB's (80% of RAM)."""
    temp_directory: str | None = None
    """Where DuckDB spills; default a fresh temporary directory per query, removed after it."""
    threads: int | None = None
    provenance_columns: bool = False
    """Also return each view's matched row's timestamp and created timestamp."""


@dataclass(frozen=True)
class _ViewJoin:
    """What the join needs of one feature view, in the feature table's column names."""

    path: str
    columns: dict[str, str]  # key or feature name in the view -> source column name
    join_keys: dict[str, str]  # feature-table key -> entity column
    timestamp: str
    created: str | None
    features: list[tuple[str, str]]  # (feature name in the table, output column name)
    ttl: timedelta | None
    name: str = ""
    filter_created: bool = False


class AsofDuckDBOfflineStore(DuckDBOfflineStore):
    """The DuckDB offline store with a linear ASOF point-in-time join."""

    @staticmethod
    def get_historical_features(
        config: RepoConfig,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df: pd.DataFrame | str,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
    ) -> RetrievalJob:
        on_demand = OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry)
        reason = (
            "the entity frame is a SQL string"
            if not isinstance(entity_df, pd.DataFrame)
            else "on-demand feature views are requested"
            if on_demand
            else "a source is not a parquet FileSource"
            if not all(_is_parquet_file_source(view.batch_source) for view in feature_views)
            else None
        )
        if reason:
            logger.warning(f"ASOF join not applicable ({reason}); using DuckDB store's join")
            return DuckDBOfflineStore.get_historical_features(
                config,
                feature_views,
                feature_refs,
                entity_df,
                registry,
                project,
                full_feature_names=full_feature_names,
                filter_by_created_timestamp=filter_by_created_timestamp,
            )
        timestamp_column = infer_event_timestamp_from_entity_df(
            dict(zip(entity_df.columns, entity_df.dtypes, strict=True))
        )
        views = [
            _view_join(
                view,
                feature_refs,
                full_feature_names,
                str(config.repo_path),
                filter_by_created_timestamp,
            )
            for view in feature_views
        ]
        timestamps = entity_df[timestamp_column]
        metadata = RetrievalMetadata(
            features=feature_refs,
            keys=[column for column in entity_df.columns if column != timestamp_column],
            min_event_timestamp=timestamps.min() if len(timestamps) else None,
            max_event_timestamp=timestamps.max() if len(timestamps) else None,
        )
        return AsofRetrievalJob(
            entity_df,
            timestamp_column,
            views,
            config.offline_store,
            full_feature_names,
            metadata,
            str(config.repo_path),
        )

    @staticmethod
    def pull_latest_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None,
        start_date: datetime,
        end_date: datetime,
    ) -> RetrievalJob:
        """The latest row per key in a time range, as `feast materialize` reads it."""
        return pull_latest_from_table_or_query_ibis(
            config=config,
            data_source=data_source,
            join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns,
            timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column,
            start_date=start_date,
            end_date=end_date,
            **_duckdb_io(config),
        )

    @staticmethod
    def pull_all_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> RetrievalJob:
        """Every row in a time range, as saved datasets and batch materialization read them."""
        return pull_all_from_table_or_query_ibis(
            config=config,
            data_source=data_source,
            join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns,
            timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column,
            start_date=start_date,
            end_date=end_date,
            **_duckdb_io(config),
        )


def _duckdb_io(config: RepoConfig) -> dict:
    """How the DuckDB store's pulls read and write their data, with this store's reader."""
    return {
        "data_source_reader": _read_in_microseconds,
        "data_source_writer": _write_data_source,
        "staging_location": config.offline_store.staging_location,
        "staging_location_endpoint_override": (
            config.offline_store.staging_location_endpoint_override
        ),
    }


def _read_in_microseconds(data_source: DataSource, repo_path: str):
    """The DuckDB store's reader, with nanosecond timestamp columns cast to microseconds.

    DuckDB reads nanosecond parquet times as TIMESTAMP(TZ)_NS, a type ibis does not know and
    that DuckDB cannot cast to the naive TIMESTAMP the store's time range is compared with
    ("Unimplemented type for cast (TIMESTAMPTZ_NS -> TIMESTAMP)").
    """
    import ibis
    import ibis.expr.datatypes as dt

    if _in_object_store(data_source):
        # DuckDB reads object stores only through its httpfs extension, which is downloaded on
        # first use and knows nothing of fsspec's settings; fsspec reads the file instead.
        return ibis.memtable(_times_in_microseconds(files.read_parquet(data_source.path)))
    table = _read_data_source(data_source, repo_path)
    casts = {}
    for name, dtype in table.schema().items():
        kind = str(dtype) if dtype.is_unknown() else ""
        if "TIMESTAMPTZ_NS" in kind:
            casts[name] = table[name].cast(dt.Timestamp(timezone="UTC"))
        elif "TIMESTAMP_NS" in kind:
            casts[name] = table[name].cast(dt.Timestamp())
    return table.mutate(**casts) if casts else table


class AsofRetrievalJob(RetrievalJob):
    """Runs the ASOF join when the frame or table is asked for."""

    def __init__(
        self,
        entity_df: pd.DataFrame,
        timestamp_column: str,
        views: list[_ViewJoin],
        settings: DuckDBOfflineStoreConfig,
        full_feature_names: bool,
        metadata: RetrievalMetadata,
        repo_path: str = "",
    ):
        self._entity_df = entity_df
        self._repo_path = repo_path
        self._timestamp_column = timestamp_column
        self._views = views
        self._settings = settings
        self._full_feature_names = full_feature_names
        self._metadata = metadata

    @property
    def full_feature_names(self) -> bool:
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return []

    @property
    def metadata(self) -> RetrievalMetadata:
        return self._metadata

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        return asof_join(self._entity_df, self._timestamp_column, self._views, self._settings)

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return self._to_arrow_internal(timeout).to_pandas()

    def persist(self, storage, allow_overwrite: bool = False, timeout: int | None = None):
        """Write the joined rows where `storage` says, as a saved dataset: through the DuckDB
        store's own writer, so the file, the overwrite rule and the error for an existing
        location are Feast's."""
        import ibis

        _write_data_source(
            ibis.memtable(self.to_arrow(timeout=timeout)),
            storage.to_data_source(),
            self._repo_path,
            "overwrite",
            allow_overwrite,
        )


@contextmanager
def _stage(name: str) -> Iterator[None]:
    """Tell every one of `stage_listeners` how long the block took."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        for listener in list(stage_listeners):
            listener(name, seconds)


@_stage("asof_join")
def asof_join(
    entity_df: pd.DataFrame,
    timestamp_column: str,
    views: list[_ViewJoin],
    settings: DuckDBOfflineStoreConfig,
) -> pa.Table:
    """The point-in-time join of `entity_df` with each view, one row per entity row, in order."""
    entity = pa.Table.from_pandas(entity_df, preserve_index=False)
    # DuckDB sees only what the join needs: the row number, the join keys and the time. The
    # entity columns are put back beside the features afterwards, so they are not carried
    # through the join's sorts and the final ORDER BY.
    key_columns = list(dict.fromkeys(c for view in views for c in view.join_keys.values()))
    probe = pa.table(
        {
            _ROW: pa.array(np.arange(len(entity_df), dtype=np.int64)),
            _TS: _epoch_ns(entity.column(timestamp_column)),
            **{column: entity.column(column) for column in key_columns},
        }
    )
    with _connect(settings) as con:
        con.register("entity", probe)
        joins, selects = [], []
        provenance = getattr(settings, "provenance_columns", False)
        for index, view in enumerate(views):
            alias = f"f{index}"
            table = _feature_table(view)
            if view.filter_created and _CREATED in table.column_names:
                _register_visible_versions(con, alias, table, list(view.join_keys))
            else:
                latest = _latest_versions(table, list(view.join_keys))
                con.register(alias, latest.append_column(_FTS, latest.column(_TS)))
            conditions = [
                f"e.{_quote(entity_column)} = {alias}.{_quote(key)}"
                for key, entity_column in view.join_keys.items()
            ]
            conditions.append(f"e.{_TS} >= {alias}.{_TS}")
            joins.append(f"ASOF LEFT JOIN {alias} ON {' AND '.join(conditions)}")
            live = (
                f"{alias}.{_FTS} >= e.{_TS} - {view.ttl // timedelta(microseconds=1) * 1000}"
                if view.ttl
                else f"{alias}.{_FTS} IS NOT NULL"
            )
            selects += [
                f"CASE WHEN {live} THEN {alias}.{_quote(name)} END AS {_quote(output)}"
                for name, output in view.features
            ]
            if provenance:
                created = f"{alias}.{_CREATED}" if view.created else "NULL::BIGINT"
                selects += [
                    f"CASE WHEN {live} THEN {alias}.{_FTS} END AS "
                    + _quote(f"{PROVENANCE_PREFIX}{view.name}__timestamp"),
                    f"CASE WHEN {live} THEN {created} END AS "
                    + _quote(f"{PROVENANCE_PREFIX}{view.name}__created"),
                ]
        query = f"SELECT {', '.join(selects)} FROM entity e {' '.join(joins)} ORDER BY e.{_ROW}"
        # The files' read buffers and the unsorted rows, freed now but kept by Arrow's
        # allocator for reuse; DuckDB allocates its own, so give them back first.
        pa.default_memory_pool().release_unused()
        features = _provenance_as_timestamps(con.sql(query).to_arrow_table())
    passed_through = _as_duckdb_returns(entity, settings)
    result = pa.Table.from_arrays(
        [*passed_through.columns, *features.columns],
        names=[*passed_through.column_names, *features.column_names],
    )
    return _as_feast_timestamps(
        result, timestamp_column, entity.schema.field(timestamp_column).type.tz
    )


def _as_duckdb_returns(entity: pa.Table, settings: DuckDBOfflineStoreConfig) -> pa.Table:
    """The entity columns typed as Feast's DuckDB store returns them after its query.

    Integers, floats, booleans and timestamps come back as they went in (timestamps are then
    set by `_as_feast_timestamps`). Other columns, such as categoricals or large strings, are
    passed through a DuckDB projection, which types them as DuckDB does.
    """
    same = [
        field.name
        for field in entity.schema
        if pa.types.is_integer(field.type)
        or pa.types.is_boolean(field.type)
        or pa.types.is_timestamp(field.type)
        or pa.types.is_float32(field.type)
        or pa.types.is_float64(field.type)
    ]
    if len(same) == entity.num_columns:
        return entity
    others = entity.drop_columns(same)
    with _connect(settings, keep_scan_order=True) as con:
        con.register("others", others)
        typed = con.sql("SELECT * FROM others").to_arrow_table()
    columns = [
        entity.column(name) if name in same else typed.column(name) for name in entity.column_names
    ]
    return pa.Table.from_arrays(columns, names=entity.column_names)


def _as_feast_timestamps(result: pa.Table, timestamp_column: str, zone: str | None) -> pa.Table:
    """Entity timestamps typed as Feast's stores return them, in microseconds.

    The event timestamp keeps its own zone; other zoned timestamp columns come back in UTC.
    """
    for index, field in enumerate(result.schema):
        if not pa.types.is_timestamp(field.type):
            continue
        if field.name == timestamp_column:
            target = pa.timestamp("us", tz=zone)
        elif field.type.tz is not None:
            target = pa.timestamp("us", tz="UTC")
        else:
            continue
        result = result.set_column(index, field.name, result.column(index).cast(target, safe=False))
    return result


def _provenance_as_timestamps(table: pa.Table) -> pa.Table:
    """The provenance columns, epoch nanoseconds in the query, as UTC timestamps."""
    for index, name in enumerate(table.column_names):
        if name.startswith(PROVENANCE_PREFIX):
            column = table.column(index).cast(pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
            table = table.set_column(index, name, column)
    return table


def _in_object_store(data_source: DataSource) -> bool:
    path = getattr(data_source, "path", "") or ""
    return "://" in path and not files.is_local(files.resolve(path))


def _times_in_microseconds(table: pa.Table) -> pa.Table:
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
            kind = pa.timestamp("us", tz=field.type.tz)
            table = table.set_column(index, field.name, table.column(index).cast(kind, safe=False))
    return table


def _register_visible_versions(
    con: duckdb.DuckDBPyConnection, alias: str, table: pa.Table, keys: list[str]
) -> None:
    """Register as `alias` the version of each key that an entity row at time _TS would see
    when rows created after it do not count.

    A row becomes visible at max(timestamp, created). Among the rows visible at a time, Feast
    picks the latest timestamp, then the latest created. Ranking every row of a key by that
    order, the row seen at time T is the highest-ranked row visible by T: a running maximum
    over the rows in order of visibility. One row per key and visibility time then lets an
    ASOF join on the visibility time find it; _FTS keeps the row's own timestamp for the TTL.

    A row without a created time is never visible: Feast's stores keep a row only where
    `created <= entity time`, which a null never is.
    """
    con.register(f"{alias}_raw", table)
    key_list = ", ".join(_quote(key) for key in keys)
    visible = f"greatest({_TS}, {_CREATED})"
    payload = [name for name in table.column_names if name not in (*keys, _TS)]
    con.execute(
        f"CREATE TEMP TABLE {alias}_ranked AS SELECT *, {visible} AS __asof_visible, "
        f"row_number() OVER (ORDER BY {key_list}, {_TS}, {_CREATED}) AS {_RANK} "
        f"FROM {alias}_raw WHERE {_CREATED} IS NOT NULL"
    )
    con.execute(
        f"CREATE TEMP TABLE {alias} AS "
        f"WITH best AS (SELECT {key_list}, __asof_visible, max(running) AS {_RANK} FROM ("
        f"  SELECT {key_list}, __asof_visible, max({_RANK}) OVER (PARTITION BY {key_list} "
        f"  ORDER BY __asof_visible, {_RANK} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        f"  AS running FROM {alias}_ranked"
        f") GROUP BY {key_list}, __asof_visible) "
        f"SELECT {', '.join('b.' + _quote(key) for key in keys)}, b.__asof_visible AS {_TS}, "
        f"r.{_TS} AS {_FTS}, "
        + ", ".join(f"r.{_quote(name)}" for name in payload)
        + f" FROM best b JOIN {alias}_ranked r ON r.{_RANK} = b.{_RANK}"
    )
    con.unregister(f"{alias}_raw")


def _feature_table(view: _ViewJoin) -> pa.Table:
    """The view's columns from its parquet file, with times as UTC epoch nanoseconds.

    Times become integers here because DuckDB's time-zone arithmetic lives in an extension that
    may not be installable where this runs; naive times count as UTC, as Feast reads them.
    """
    table = files.read_parquet_columns(view.path, _column_roles(view))
    columns = {name: table.column(source) for name, source in view.columns.items()}
    columns[_TS] = _epoch_ns(table.column(view.timestamp), view.path, view.timestamp)
    if view.created:
        columns[_CREATED] = _epoch_ns(table.column(view.created), view.path, view.created)
    return pa.table(columns)


def _column_roles(view: _ViewJoin) -> dict[str, str]:
    """The source columns the join reads of `view`'s file, each with what it is for."""
    keys = {name: source for name, source in view.columns.items() if name in view.join_keys}
    features = {name: source for name, source in view.columns.items() if name not in keys}
    return files.view_column_roles(view.name, keys, features, view.timestamp, view.created)


def _epoch_ns(column: pa.ChunkedArray, path: str = "", name: str = "") -> pa.ChunkedArray:
    """UTC nanoseconds since the epoch of a timestamp column; naive values are UTC already.

    ISO 8601 text is read too: Feast's own writer (`write_to_offline_store`, a push to the
    offline store) stores the times of the rows it appends as text such as
    `2024-01-02 01:00:00.000000000Z`.

    Raises:
        ValueError: naming the file, the column and a value that is no time.
    """
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = _parse_times(column, path, name)
    if not pa.types.is_timestamp(column.type):
        raise ValueError(
            f"{path}: column {name!r} must hold timestamps or ISO 8601 text, found {column.type}"
        )
    return column.cast(pa.timestamp("ns", tz=column.type.tz)).cast(pa.int64())


def _parse_times(column: pa.ChunkedArray, path: str, name: str) -> pa.ChunkedArray:
    """ISO 8601 text as UTC timestamps, each value on its own: with an offset (Feast's writer
    ends them in Z) or naive (UTC), whatever the values around it."""
    try:
        return times.utc_instants(column)
    except times.TimeParseError as error:
        raise ValueError(
            f"{path}: column {name!r} holds a value that is {error.what}: {error.value!r}"
        ) from None


def _latest_versions(table: pa.Table, keys: list[str]) -> pa.Table:
    """One row per key and feature timestamp: the one created last, as Feast picks it.

    A sort and a neighbour comparison in Arrow; a window function in DuckDB takes four times
    as long on two cores. Only the sort keys are put in order; the kept rows are taken from
    the table once, so it is never held twice over.
    """
    # Nulls first, so a version with a created time beats one without (DESC NULLS LAST there).
    order = [(key, "ascending", "at_start") for key in keys] + [(_TS, "ascending", "at_start")]
    if _CREATED in table.column_names:
        order.append((_CREATED, "ascending", "at_start"))
    # Among rows equal in keys, timestamp and created, the first in the file wins, as in the
    # DuckDB store's ranking.
    sort_keys = table.select([name for name, _, _ in order]).append_column(
        _FILE_ROW, pa.array(np.arange(len(table), dtype=np.int64))
    )
    order.append((_FILE_ROW, "descending", "at_start"))
    indices = pc.sort_indices(sort_keys, sort_keys=order)
    if len(indices) < 2:
        return table.take(indices)
    ordered = sort_keys.select([*keys, _TS]).take(indices)
    same_as_next = pc.equal(ordered.column(_TS)[:-1], ordered.column(_TS)[1:])
    for key in keys:
        same_as_next = pc.and_(
            same_as_next, pc.equal(ordered.column(key)[:-1], ordered.column(key)[1:])
        )
    # The last row of each run of equal (keys, timestamp) has the latest created.
    keep = pc.invert(pc.fill_null(same_as_next, False))
    keep = pa.concat_arrays([keep.combine_chunks(), pa.array([True])])
    return table.take(indices.filter(keep))


def _view_join(
    view: FeatureView,
    feature_refs: list[str],
    full_feature_names: bool,
    repo_path: str,
    filter_created: bool = False,
) -> _ViewJoin:
    source = view.batch_source
    to_source = {feature: column for column, feature in source.field_mapping.items()}
    join_keys = view.projection.join_key_map or {e.name: e.name for e in view.entity_columns}
    prefix = view.projection.name_to_use()
    names = [ref.split(":", 1)[1] for ref in feature_refs if ref.startswith(f"{prefix}:")]
    output_prefix = view.projection.name_alias or view.name
    features = [
        (name, f"{output_prefix}__{name}" if full_feature_names else name) for name in names
    ]
    columns = {name: to_source.get(name, name) for name in [*join_keys, *names]}
    return _ViewJoin(
        path=FileSource.get_uri_for_file_path(repo_path, source.path),
        columns=columns,
        join_keys=join_keys,
        timestamp=to_source.get(source.timestamp_field, source.timestamp_field),
        created=(
            to_source.get(source.created_timestamp_column, source.created_timestamp_column)
            if source.created_timestamp_column
            else None
        ),
        features=features,
        ttl=view.ttl if view.ttl else None,
        name=output_prefix,
        filter_created=filter_created,
    )


class _connect:
    """A DuckDB connection with the configured memory limit and spill directory; without one,
    a fresh temporary directory that is removed with the connection (DuckDB's own default,
    `.tmp` in the working directory, is wherever the process happens to run)."""

    def __init__(self, settings: DuckDBOfflineStoreConfig, keep_scan_order: bool = False):
        self.temp = getattr(settings, "temp_directory", None)
        self.scratch: tempfile.TemporaryDirectory | None = None
        # The join's result is put in order by an explicit ORDER BY; not keeping scan order on
        # the way halves its time. A plain projection relies on scan order instead.
        self.config = {"preserve_insertion_order": keep_scan_order}
        if getattr(settings, "memory_limit", None):
            self.config["memory_limit"] = settings.memory_limit
        if getattr(settings, "threads", None):
            self.config["threads"] = settings.threads

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        if self.temp:
            Path(self.temp).mkdir(parents=True, exist_ok=True)
        else:
            self.scratch = tempfile.TemporaryDirectory(prefix="feast_asof_")
        directory = self.temp or self.scratch.name
        self.con = duckdb.connect(config={**self.config, "temp_directory": directory})
        return self.con

    def __exit__(self, *exc) -> None:
        self.con.close()
        if self.scratch is not None:
            self.scratch.cleanup()


def _is_parquet_file_source(source: DataSource | None) -> bool:
    # A FileSource read back from the registry has no file_format when it was left at its
    # default, which is parquet.
    return type(source) is FileSource and (
        source.file_format is None or type(source.file_format).__name__ == "ParquetFormat"
    )


def _quote(name: str) -> str:
    """`name` as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
