"""Outputs on disk as the IO managers keep them: parquet (pyarrow) for frames, series and Arrow
tables, JSON for small records, every file written atomically.

No Dagster here: the IO managers call these with fsspec paths (UPath), and the benchmark's
plain script with local ones.
"""

import ctypes
import ctypes.util
import json
import os
import shutil
import uuid
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training_assets.core.timing import timed

# Marks a parquet file that holds a pandas Series, so it loads back as one.
SERIES_KEY = b"training_assets.series_name"

# How the large tables (the training table, the split's outputs) are written: without
# dictionary pages, which numeric columns with millions of distinct values fill and then
# abandon. At 10M rows the training table writes in 1.6 s instead of 2.2 and reads back into
# pandas in 1.2 s instead of 2.3, in a file 40% larger.
LARGE_TABLE_OPTIONS = {"use_dictionary": False}

_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def use_system_allocator() -> None:
    """Make the C library's allocator Arrow's, for this process.

    Arrow's default allocator (mimalloc) keeps freed pages in per-thread heaps that
    `release_memory` cannot reach from the main thread: pages that the parquet reader's or
    the join's threads freed stay in the process, 0.5 GiB at 10M orders and more at 100M,
    through every later step of an in-process run. glibc gives large buffers back as they
    are freed. The run's process sets it (defs/process_tuning.py); a frame or table already
    allocated keeps the pool it came from.
    """
    pa.set_memory_pool(pa.system_memory_pool())


def release_memory() -> None:
    """Give memory that was freed back to the system.

    Arrow's allocator keeps freed buffers for reuse, and glibc keeps freed heap pages, so in a
    process that runs step after step (execute_in_process, the in-process executor) what one
    step read and dropped would stay in the process's memory through all the steps after it:
    2.4 GiB of a 100M-order run.
    """
    pa.default_memory_pool().release_unused()
    trim = getattr(_LIBC, "malloc_trim", None)  # glibc's; other C libraries lack it
    if trim is not None:
        trim(0)


def write_atomically(path, write: Callable[[Any], None]) -> None:
    """Write through a temporary sibling and rename it into place.

    A crash mid-write leaves at most a stray temporary file; the previous good file at `path`
    stays intact until the rename, which replaces it in one step on local disks.

    Args:
        path: A pathlib.Path or UPath.
        write: Writes the content to the path it is given.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        write(tmp)
        tmp.rename(path)
    finally:
        if tmp.exists():
            tmp.unlink()


def parquet_table(obj: Any) -> pa.Table:
    """The Arrow table a frame, series or table is stored as; a series keeps its name.

    Raises:
        TypeError: for anything else.
    """
    if isinstance(obj, pd.Series):
        table = pa.Table.from_pandas(obj.to_frame(), preserve_index=False)
        name = "" if obj.name is None else str(obj.name)
        return table.replace_schema_metadata(
            {**(table.schema.metadata or {}), SERIES_KEY: name.encode()}
        )
    if isinstance(obj, pd.DataFrame):
        return pa.Table.from_pandas(obj, preserve_index=False)
    if isinstance(obj, pa.Table):
        return obj
    raise TypeError(
        f"parquet storage takes DataFrames, Series and Arrow tables, got {type(obj).__name__}"
    )


def loaded_dtype(field: pa.Field, null_count: int = 0) -> str:
    """The pandas dtype an Arrow column loads back as, without converting any data: an
    integer column with nulls as float64, a boolean one as object."""
    if null_count and pa.types.is_integer(field.type):
        return "float64"
    if null_count and pa.types.is_boolean(field.type):
        return "object"
    return str(pa.schema([field]).empty_table().to_pandas().dtypes.iloc[0])


def move_file(path, source) -> None:
    """Move the local file `source` to `path` (a Path or UPath), atomically: a rename when
    both are on one local disk, else a copy through a temporary sibling (then `source` is
    left for the caller to remove)."""
    with timed(f"write {path.name}"):
        if getattr(path, "protocol", "") in ("", "file", "local"):
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, str(path))
                return
            except OSError:
                pass  # another file system: copied below

        def write(target) -> None:
            with open(source, "rb") as reader, target.open("wb") as writer:
                shutil.copyfileobj(reader, writer, length=1 << 24)

        write_atomically(path, write)


def write_parquet(path, obj: Any) -> None:
    """Store a frame, series or Arrow table at `path` (a Path or UPath) as parquet."""
    with timed(f"write {path.name}"):
        _write_parquet(path, parquet_table(obj))
    # The table a frame was copied into, freed once written.
    release_memory()


def _write_parquet(path, table: pa.Table) -> None:
    def write(target) -> None:
        with target.open("wb") as handle:
            pq.write_table(table, handle)

    write_atomically(path, write)


def read_parquet(path) -> pd.DataFrame | pd.Series:
    """What `write_parquet` stored at `path`: a frame, or a series under its name."""
    with timed(f"read {path.name}"), path.open("rb") as handle:
        table = pq.read_table(handle)
    metadata = table.schema.metadata or {}
    # Column by column, each Arrow buffer released once converted: the peak stays near one
    # copy of the data instead of two.
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    release_memory()
    if SERIES_KEY in metadata:
        name = metadata[SERIES_KEY].decode()
        return frame.iloc[:, 0].rename(name or None)
    return frame


def read_arrow(path) -> pa.Table:
    """What `write_parquet` stored at `path`, as the Arrow table it was written from."""
    with timed(f"read {path.name}"), path.open("rb") as handle:
        return pq.read_table(handle)


def write_json(path, record: Any) -> None:
    """Store a JSON-serialisable record at `path` (a Path or UPath)."""
    text = json.dumps(record, indent=2, sort_keys=True)
    write_atomically(path, lambda target: target.write_text(text))


def read_json(path) -> Any:
    return json.loads(path.read_text())
