"""IO managers: parquet for frames, series and Arrow tables, JSON for small records, each
written atomically (the files are `training_assets.core.data.storage`'s).

Every run writes under a folder of its own, `<base>/runs/<run id>/<asset>`, so two runs at
once (a sensor's, a click on "Materialize all", a CLI run) never read or replace each other's
outputs. An asset is loaded from the folder of the run that materialized it: this run when
it did, else the run of its latest materialization. Folders of runs that ended a while ago and
hold no asset's latest materialization are removed when a later run writes its first output.
"""

import contextlib
import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import (
    AssetRecordsFilter,
    ConfigurableIOManagerFactory,
    DagsterEventType,
    DagsterInstance,
    DagsterInvariantViolationError,
    InputContext,
    MetadataValue,
    OutputContext,
    RunsFilter,
    TableColumn,
    TableSchema,
    UPathIOManager,
)
from pydantic import Field
from upath import UPath

from training_assets.core import paths, records
from training_assets.core.data import locations, storage
from training_assets.core.data.table_query import TableFile
from training_assets.defs.instance_reads import retried
from training_assets.defs.materializations import materialization_for

RUNS_DIR = "runs"
# A finished run's folder outlives the run by this long, so that a run that has just looked up
# an asset's latest materialization can still read it after a newer one lands.
KEEP_FINISHED_SECONDS = 600


class RunScopedIOManager(UPathIOManager):
    """Outputs under `runs/<run id>/`; inputs from the run that materialized them."""

    def __init__(self, base_path: UPath):
        super().__init__(base_path=base_path)
        self._pruned_for: set[str] = set()

    def get_asset_relative_path(self, context: InputContext | OutputContext) -> UPath:
        if isinstance(context, InputContext) and context.has_asset_partitions:
            # Each partition is read from the run that materialized it: get_path_for_partition.
            return UPath(*context.asset_key.path)
        run_id = _output_run(context) if isinstance(context, OutputContext) else _input_run(context)
        if run_id is None:
            # A context built by hand, outside a run: the plain per-asset layout.
            return super().get_asset_relative_path(context)
        return UPath(RUNS_DIR, run_id, *context.asset_key.path)

    def get_path_for_partition(
        self, context: InputContext | OutputContext, path: UPath, partition: str
    ) -> UPath:
        if isinstance(context, InputContext):
            run_id = _input_run(context, partition)
            if run_id is not None:
                asset = context.asset_key.path
                return self._base_path.joinpath(RUNS_DIR, run_id, *asset, partition)
        return super().get_path_for_partition(context, path, partition)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if isinstance(obj, records.ByPartition):
            self._write_partitions(context, obj)
        else:
            super().handle_output(context, obj)
        run_id = _output_run(context)
        if run_id and run_id not in self._pruned_for:
            self._pruned_for.add(run_id)
            instance = context.step_context.instance
            prune_run_folders(self._base_path / RUNS_DIR, instance, run_id)
            prune_staging_folders(paths.working_area() / "staging", instance, run_id)

    def _write_partitions(self, context: OutputContext, obj: records.ByPartition) -> None:
        """One value per partition of a run over several days (a partition range), each
        written where that partition is read from."""
        paths = self._get_paths_for_partitions(context)
        if set(obj) != set(paths):
            raise ValueError(
                f"{context.asset_key.to_user_string()} returned partitions {sorted(obj)} for a "
                f"run of partitions {sorted(paths)}"
            )
        for key, path in paths.items():
            self.make_directory(path.parent)
            self.dump_to_path(context=context, obj=obj[key], path=path)
        context.add_output_metadata({"partitions_written": len(paths)})


def _output_run(context: OutputContext) -> str | None:
    try:
        return context.step_context.run_id
    except DagsterInvariantViolationError:
        return None


def _input_run(context: InputContext, partition: str | None = None) -> str | None:
    """The run whose folder holds the input (of `partition`, when given): this run when it
    materialized it, else the run of its latest materialization."""
    try:
        step = context.step_context
    except DagsterInvariantViolationError:
        return None
    event = materialization_for(step.instance, step.run_id, context.asset_key, partition)
    if event is None:
        what = context.asset_key.to_user_string() + (f" {partition}" if partition else "")
        raise DagsterInvariantViolationError(
            f"{what} has never been materialized; materialize it before the assets that read it"
        )
    return event.run_id


def prune_run_folders(runs: UPath, instance: DagsterInstance, current: str) -> list[str]:
    """Remove the folders of runs that ended over KEEP_FINISHED_SECONDS ago and hold no
    asset's latest materialization; remove temp files a killed run left in the others.

    Returns:
        The run ids whose folders were removed.
    """
    if not runs.exists():
        return []
    folders = {folder.name: folder for folder in runs.iterdir() if folder.is_dir()}
    folders.pop(current, None)
    if not folders:
        return []
    ended = _ended(folders, instance)
    if not ended:
        # Nothing to remove: the asset lookups below (one query per asset) are skipped.
        return []
    latest = set()
    for key in retried(instance.get_asset_keys, "the asset keys"):
        event = retried(
            lambda key=key: instance.get_latest_materialization_event(key),
            f"{key.to_user_string()}'s latest materialization",
        )
        if event is not None:
            latest.add(event.run_id)
        latest |= _partition_runs(instance, key)
    removed = []
    for run_id, folder in ended.items():
        if run_id in latest:
            for leftover in folder.rglob("*.tmp"):
                leftover.unlink(missing_ok=True)
            continue
        folder.fs.rm(folder.path, recursive=True)
        removed.append(run_id)
    return removed


def _partition_runs(instance: DagsterInstance, key) -> set[str]:
    """The runs that hold each partition's latest materialization of `key` (a day's batch
    scores, say): another day's newer run does not replace them. None for an unpartitioned
    asset."""
    storage_ids = retried(
        lambda: instance.get_latest_storage_id_by_partition(
            key, DagsterEventType.ASSET_MATERIALIZATION
        ),
        f"{key.to_user_string()}'s latest materialization per partition",
    )
    if not storage_ids:
        return set()
    records = retried(
        lambda: (
            instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, storage_ids=list(storage_ids.values())),
                limit=len(storage_ids),
            ).records
        ),
        f"{key.to_user_string()}'s partitions' runs",
    )
    return {record.run_id for record in records}


def _ended(folders: dict, instance: DagsterInstance) -> dict:
    """The folders, by run id, of runs that ended over KEEP_FINISHED_SECONDS ago or that the
    instance does not know."""
    if not folders:
        return {}
    found = retried(
        lambda: instance.get_run_records(filters=RunsFilter(run_ids=list(folders))),
        "the records of runs with folders",
    )
    records = {record.dagster_run.run_id: record for record in found}
    now = time.time()
    return {
        run_id: folder
        for run_id, folder in folders.items()
        if (record := records.get(run_id)) is None
        or (
            record.dagster_run.is_finished
            and now - (record.end_time or now) >= KEEP_FINISHED_SECONDS
        )
    }


def prune_staging_folders(staging: Path, instance: DagsterInstance, current: str) -> list[str]:
    """Remove the staging folders (`paths.staged_output`) of runs that ended over
    KEEP_FINISHED_SECONDS ago: what a run killed mid-step left half-written.

    Returns:
        The run ids whose staging folders were removed.
    """
    if not staging.is_dir():
        return []
    folders = {f.name: f for f in staging.iterdir() if f.is_dir() and f.name != current}
    removed = []
    for run_id, folder in _ended(folders, instance).items():
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(run_id)
    return removed


class ParquetIOManager(RunScopedIOManager):
    """Frames and series as parquet files via pyarrow, under any fsspec base path."""

    extension = ".parquet"

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        if isinstance(obj, TableFile):
            # A table the step wrote itself, slice by slice (training_data): moved into place.
            storage.move_file(path, Path(obj.path))
            return
        try:
            storage.write_parquet(path, obj)
        except TypeError as error:
            raise TypeError(f"{context.asset_key.to_user_string()}: {error}") from error

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        try:
            super().handle_output(context, obj)
        finally:
            if isinstance(obj, TableFile):
                staged = Path(obj.path)
                staged.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    staged.parent.rmdir()  # the run's staging folder, once empty

    def load_from_path(
        self, context: InputContext, path: UPath
    ) -> pd.DataFrame | pd.Series | TableFile | pa.Table:
        # An input typed TableFile is queried where it lies (the gates' DuckDB queries), not
        # loaded: no copy of a large table in the step's memory.
        if _typed_table_file(context):
            return TableFile(str(path))
        # An input typed as an Arrow table is loaded as one: strings and all stay in Arrow's
        # memory, never converted to Python objects (a day's outcomes).
        if _input_type(context) is pa.Table:
            return storage.read_arrow(path)
        return storage.read_parquet(path)

    def get_metadata(self, context: OutputContext, obj: Any) -> dict[str, Any]:
        if isinstance(obj, TableFile):
            # Read from where the file now lies: the staged one has been moved.
            metadata = locations.parquet_metadata(self._get_path(context))
            schema = metadata.schema.to_arrow_schema()
            nulls = _null_counts(metadata)
            dtypes = {
                field.name: storage.loaded_dtype(field, nulls.get(field.name, 0))
                for field in schema
            }
            rows = metadata.num_rows
        elif isinstance(obj, pa.Table):
            # The dtypes the table loads back with, as for frames.
            dtypes = {
                field.name: storage.loaded_dtype(field, obj.column(field.name).null_count)
                for field in obj.schema
            }
            rows = len(obj)
        else:
            frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
            dtypes = {str(name): str(dtype) for name, dtype in frame.dtypes.items()}
            rows = len(obj)
        # Dagster's own keys, which the catalog shows as the row count and the column schema;
        # an asset that states them itself (with the feature repo's descriptions, say) keeps
        # its own, since the IO manager's metadata would replace them.
        standard = {
            "dagster/row_count": MetadataValue.int(rows),
            "dagster/column_schema": MetadataValue.table_schema(
                TableSchema(
                    columns=[TableColumn(name=name, type=dtype) for name, dtype in dtypes.items()]
                )
            ),
        }
        stated = context.output_metadata or {}
        return {key: value for key, value in standard.items() if key not in stated}


def _null_counts(metadata: pq.FileMetaData) -> dict[str, int]:
    """Nulls per column from the file's row-group statistics (a column without statistics
    counts as holding nulls, so an integer column reads as pandas would load it at worst)."""
    counts: dict[str, int] = {}
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            column = row_group.column(index)
            stats = column.statistics
            found = stats.null_count if stats is not None and stats.has_null_count else 1
            name = column.path_in_schema
            counts[name] = counts.get(name, 0) + found
    return counts


def _typed_table_file(context: InputContext) -> bool:
    return _input_type(context) is TableFile


def _input_type(context: InputContext) -> Any:
    """The Python type the reading asset or check annotates the input with; None for a
    context built by hand without a type."""
    try:
        return context.dagster_type.typing_type
    except DagsterInvariantViolationError:
        return None


class JsonIOManager(RunScopedIOManager):
    """Small records (core/records.py: model reference, evaluation, registered version...)
    as JSON files.

    A dataclass is written as its fields and read back as the type the reading asset or
    check annotates its input with; anything else JSON can hold is stored as it is.
    """

    extension = ".json"

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        storage.write_json(path, records.dump(obj) if dataclasses.is_dataclass(obj) else obj)

    def load_from_path(self, context: InputContext, path: UPath) -> Any:
        data = storage.read_json(path)
        record_type = _input_type(context)
        if not (isinstance(record_type, type) and dataclasses.is_dataclass(record_type)):
            return data
        try:
            return records.load(record_type, data)
        except ValueError as error:
            raise ValueError(
                f"{context.asset_key.to_user_string()} at {path}: {error}; materialize "
                f"{context.asset_key.to_user_string()} again with this code"
            ) from None


class _BasePathSetting(ConfigurableIOManagerFactory):
    base_path: str | None = Field(
        default=None,
        description=(
            "Directory or fsspec URL (s3://bucket/prefix, gs://...) under which outputs are "
            "stored, one folder per run (runs/<run id>/). Default: <working area>/assets."
        ),
    )

    def _base(self) -> UPath:
        return UPath(self.base_path) if self.base_path else UPath(paths.default_io_dir())


class ParquetIOManagerResource(_BasePathSetting):
    """Stores frames and series as parquet; each write replaces the file atomically."""

    def create_io_manager(self, context) -> ParquetIOManager:
        return ParquetIOManager(base_path=self._base())


class JsonIOManagerResource(_BasePathSetting):
    """Stores small records as JSON; each write replaces the file atomically."""

    def create_io_manager(self, context) -> JsonIOManager:
        return JsonIOManager(base_path=self._base())
