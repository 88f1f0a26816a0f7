"""SQL over the training table where it lies: a parquet file queried by DuckDB, or a frame.

The gates and the drift profile ask a table for counts, rates, extremes and a few example
rows. DuckDB answers those from a parquet file reading only the columns a query names, in
memory that does not grow with the table (it spills to `temp_directory` past `memory_limit`),
so a 100M-row table is judged without a pandas copy of it. The same queries run on a frame or
an Arrow table, which DuckDB scans in place: tests and the plain script use those.

Nothing here imports Dagster.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from training_assets.core import paths
from training_assets.core.data import locations, storage

# The name a query gives the table: "SELECT count(*) FROM {t}".
TABLE = "t"
# DuckDB's memory limit when the settings give none. Its own default, 80% of the machine's
# memory, lets the duplicate-row count over 100M rows take 5 GiB, where 2GB spills a little
# and runs faster; the gates' other queries need far less.
DEFAULT_MEMORY_LIMIT = "2GB"


@dataclass(frozen=True)
class TableFile:
    """A parquet file (local path or fsspec URL) that steps query instead of loading."""

    path: str


class TableQuery:
    """Runs SQL on one table (a TableFile, a frame or an Arrow table) as `t`.

    Use it as a context manager; the DuckDB connection is closed on exit.

    Args:
        memory_limit: DuckDB's memory limit (e.g. "4GB"); default DEFAULT_MEMORY_LIMIT.
        temp_directory: Where DuckDB spills past the limit; default `<working area>/duckdb_tmp`.
    """

    def __init__(
        self,
        source: "TableFile | pd.DataFrame | pa.Table",
        memory_limit: str | None = None,
        temp_directory: str | None = None,
    ):
        temp = temp_directory or str(paths.working_area() / "duckdb_tmp")
        Path(temp).mkdir(parents=True, exist_ok=True)
        config = {"temp_directory": temp, "memory_limit": memory_limit or DEFAULT_MEMORY_LIMIT}
        # Imported here, not with the module: the code location imports this module before it
        # freezes its objects (definitions.py), and DuckDB's bindings must not be among those.
        import duckdb

        self._con = duckdb.connect(config=config)
        if isinstance(source, TableFile):
            location = locations.resolve(source.path)
            metadata = locations.parquet_metadata(location)
            self._metadata = metadata
            self.num_rows = metadata.num_rows
            self.schema = metadata.schema.to_arrow_schema()
            if locations.is_local(location):
                self._con.execute(
                    f"CREATE VIEW {TABLE} AS SELECT * FROM read_parquet({literal(str(location))})"
                )
            else:
                # Through fsspec, as the rest of the project reads object stores: an Arrow
                # dataset, which DuckDB scans batch by batch, reading only the columns asked.
                self._con.register(
                    TABLE, ds.dataset(location.path, filesystem=location.fs, format="parquet")
                )
        else:
            self._metadata = None
            self._con.register(TABLE, source)
            self.num_rows = len(source)
            self.schema = (
                source.schema
                if isinstance(source, pa.Table)
                else pa.Schema.from_pandas(source.iloc[:0], preserve_index=False)
            )
        self._frame_dtypes = (
            {str(name): str(dtype) for name, dtype in source.dtypes.items()}
            if isinstance(source, pd.DataFrame)
            else None
        )

    def __enter__(self) -> "TableQuery":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    @property
    def dtypes(self) -> dict[str, str]:
        """Each column's dtype as pandas names it: a frame's own, or the one a file's column
        loads as when it has no nulls (an integer column stays an integer)."""
        if self._frame_dtypes is not None:
            return dict(self._frame_dtypes)
        return {field.name: storage.loaded_dtype(field) for field in self.schema}

    def is_float(self, column: str) -> bool:
        return pa.types.is_floating(self.schema.field(column).type)

    def missing(self, column: str) -> str:
        """SQL true where `column` is null, or NaN in a float column (pandas' isna)."""
        name = quote(column)
        return f"({name} IS NULL OR isnan({name}))" if self.is_float(column) else f"{name} IS NULL"

    def missing_counts(self, columns: list[str]) -> list[int]:
        """How many rows miss each of `columns` (`missing`), in one pass over the table."""
        if not columns:
            return []
        return list(
            self.one(
                "SELECT "
                + ", ".join(f"count(*) FILTER ({self.missing(c)})" for c in columns)
                + " FROM {t}"
            )
        )

    def extremes(self, column: str) -> tuple[float, float] | None:
        """The least and greatest non-missing value of a numeric `column`, from the file's
        row-group statistics, without reading a row; None when a file's statistics cannot
        say (a row group without them, or with only nulls and NaN) or the table is a frame.

        Parquet writers leave NaN out of a float column's statistics, so these are the
        extremes of the values that are neither null nor NaN, as `missing` counts them.
        """
        if self._metadata is None or column not in self.columns:
            return None
        field = self.schema.field(column)
        if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
            return None
        index = self._metadata.schema.to_arrow_schema().get_field_index(column)
        lows, highs = [], []
        for group in range(self._metadata.num_row_groups):
            row_group = self._metadata.row_group(group)
            if row_group.num_rows == 0:
                continue
            statistics = row_group.column(index).statistics
            if statistics is None or not statistics.has_min_max:
                return None
            # + 0.0: writers store a zero minimum as -0.0 (the format's rule), which the
            # evidence would show as such.
            lows.append(float(statistics.min) + 0.0)
            highs.append(float(statistics.max) + 0.0)
        return (min(lows), max(highs)) if lows else None

    def one(self, sql: str) -> tuple:
        """The single row `sql` returns."""
        return self._con.sql(sql.format(t=TABLE)).fetchall()[0]

    def rows(self, sql: str) -> list[tuple]:
        return self._con.sql(sql.format(t=TABLE)).fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        """A small result (examples) as a frame, times as UTC timestamps."""
        return self._con.sql(sql.format(t=TABLE)).to_arrow_table().to_pandas()


def column_mean(table: TableFile) -> float:
    """The mean of a stored series' values (a one-column file, such as the training labels),
    missing values left out as pandas leaves them; NaN for a series without values."""
    with TableQuery(table) as query:
        column = query.columns[0]
        (mean,) = query.one(
            f"SELECT avg({quote(column)}) FILTER (WHERE NOT {query.missing(column)}) FROM {{t}}"
        )
    return float("nan") if mean is None else float(mean)


def quote(name: str) -> str:
    """`name` as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
