"""IO managers: parquet for frames, series and Arrow tables, JSON for small records, each
written atomically (the files are `training_assets.core.data.storage`'s)."""

from typing import Any

import pandas as pd
import pyarrow as pa
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

from training_assets.core import paths
from training_assets.core.data import storage


class ParquetIOManager(UPathIOManager):
    """Frames and series as parquet files via pyarrow, under any fsspec base path."""

    extension = ".parquet"

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        try:
            storage.write_parquet(path, obj)
        except TypeError as error:
            raise TypeError(f"{context.asset_key.to_user_string()}: {error}") from error

    def load_from_path(self, context: InputContext, path: UPath) -> pd.DataFrame | pd.Series:
        return storage.read_parquet(path)

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
        storage.write_json(path, obj)

    def load_from_path(self, context: InputContext, path: UPath) -> Any:
        return storage.read_json(path)


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
