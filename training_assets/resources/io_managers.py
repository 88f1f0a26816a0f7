"""IO managers: parquet for frames and series, JSON for small records, both written atomically."""

import json
import uuid
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import (
    ConfigurableIOManagerFactory,
    InputContext,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
    UPathIOManager,
)
from pydantic import Field
from upath import UPath

from training_assets import paths

# Marks a parquet file that holds a pandas Series, so it loads back as one.
_SERIES_KEY = b"training_assets.series_name"


def write_atomically(path: UPath, write: Callable[[UPath], None]) -> None:
    """Write through a temporary sibling and rename it into place.

    A crash mid-write leaves at most a stray temporary file; the previous good file at `path`
    stays intact until the rename, which replaces it in one step on local disks.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        write(tmp)
        tmp.rename(path)
    finally:
        if tmp.exists():
            tmp.unlink()


class ParquetIOManager(UPathIOManager):
    """Frames and series as parquet files via pyarrow, under any fsspec base path."""

    extension = ".parquet"

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        if isinstance(obj, pd.Series):
            table = pa.Table.from_pandas(obj.to_frame(), preserve_index=False)
            name = "" if obj.name is None else str(obj.name)
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), _SERIES_KEY: name.encode()}
            )
        elif isinstance(obj, pd.DataFrame):
            table = pa.Table.from_pandas(obj, preserve_index=False)
        elif isinstance(obj, pa.Table):
            table = obj
        else:
            raise TypeError(
                f"{context.asset_key.to_user_string()}: the parquet IO manager stores "
                f"DataFrames, Series and Arrow tables, got {type(obj).__name__}"
            )

        def write(target: UPath) -> None:
            with target.open("wb") as handle:
                pq.write_table(table, handle)

        write_atomically(path, write)

    def load_from_path(self, context: InputContext, path: UPath) -> pd.DataFrame | pd.Series:
        with path.open("rb") as handle:
            table = pq.read_table(handle)
        metadata = table.schema.metadata or {}
        # Column by column, each Arrow buffer released once converted: the peak stays near one
        # copy of the data instead of two.
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
        del table
        if _SERIES_KEY in metadata:
            name = metadata[_SERIES_KEY].decode()
            return frame.iloc[:, 0].rename(name or None)
        return frame

    def get_metadata(self, context: OutputContext, obj: Any) -> dict[str, Any]:
        if isinstance(obj, pa.Table):
            # The dtypes the table loads back with, as for frames.
            dtypes = {
                field.name: _loaded_dtype(field, obj.column(field.name).null_count)
                for field in obj.schema
            }
        else:
            frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
            dtypes = {str(name): str(dtype) for name, dtype in frame.dtypes.items()}
        return {
            "row_count": MetadataValue.int(len(obj)),
            "columns": MetadataValue.table_schema(
                TableSchema(
                    columns=[TableColumn(name=name, type=dtype) for name, dtype in dtypes.items()]
                )
            ),
        }


def _loaded_dtype(field: pa.Field, null_count: int) -> str:
    """The pandas dtype an Arrow column loads back as, without converting any data."""
    if null_count and pa.types.is_integer(field.type):
        return "float64"
    if null_count and pa.types.is_boolean(field.type):
        return "object"
    return str(pa.schema([field]).empty_table().to_pandas().dtypes.iloc[0])


class JsonIOManager(UPathIOManager):
    """Small records (model reference, evaluation, registered version) as JSON files."""

    extension = ".json"

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        text = json.dumps(obj, indent=2, sort_keys=True)
        write_atomically(path, lambda target: target.write_text(text))

    def load_from_path(self, context: InputContext, path: UPath) -> Any:
        return json.loads(path.read_text())


class _BasePathSetting(ConfigurableIOManagerFactory):
    base_path: str | None = Field(
        default=None,
        description=(
            "Directory or fsspec URL (s3://bucket/prefix, gs://...) under which outputs are "
            "stored, one file per asset. Default: <working area>/assets."
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
