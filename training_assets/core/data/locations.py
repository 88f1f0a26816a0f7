"""Where data lives: a local path, or an fsspec URL such as `s3://bucket/orders/`,
`gs://bucket/driver_stats.parquet` or `memory://...`.

Every reader of users' data goes through here, so that a location is a local file and a
bucket alike for the reads, the data versions and the sensors' change detection. Credentials
and endpoints come from the file system's own environment (`AWS_*` for S3, or fsspec's
`FSSPEC_<PROTOCOL>_<OPTION>` such as `FSSPEC_S3_ENDPOINT_URL`), never from run config.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

# The offline store reads feature files the same way; its module holds what both need.
from feast_asof import files
from feast_asof.files import is_local
from training_assets.core.secrets import redact_uri


class LocationError(ValueError):
    """A location that cannot be opened: an unknown scheme or a missing file system package."""


# What each object store reads its credentials and endpoint from, for the error that says none
# were found. Only the errors of s3fs's botocore are translated: gcsfs and adlfs name their
# own missing credentials.
_S3_CREDENTIALS = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or give the host an "
    "instance role) in the environment of the code location, and of the daemon for the "
    "sensors; for an S3-compatible store such as MinIO, AWS_ENDPOINT_URL too"
)


@contextmanager
def accessing(path: "str | os.PathLike | UPath") -> Iterator[None]:
    """Work on `path` in the block; an object store that found no credentials is named.

    Raises:
        LocationError: for missing S3 credentials, naming the URL and the variables to set,
            instead of botocore's "Unable to locate credentials" without either.
    """
    try:
        yield
    except Exception as error:
        if not _missing_credentials(error):
            raise
        raise LocationError(
            f"{redact_uri(str(path))}: no credentials found for S3 ({error}); {_S3_CREDENTIALS}"
        ) from error


def _missing_credentials(error: Exception) -> bool:
    # botocore comes with s3fs; without it no S3 location can have been opened.
    try:
        from botocore.exceptions import NoCredentialsError, PartialCredentialsError
    except ImportError:
        return False
    return isinstance(error, NoCredentialsError | PartialCredentialsError)


def resolve(location: str | os.PathLike) -> UPath:
    """`location` as a path object: a local path made absolute, a URL kept as given.

    Raises:
        LocationError: for a scheme fsspec does not know or whose package is not installed,
            naming the location and the package.
    """
    try:
        return files.resolve(location)
    except (ImportError, ValueError) as error:
        raise LocationError(f"cannot open {os.fspath(location)}: {error}") from error


def read_parquet(path: str | UPath, columns: list[str] | None = None) -> pa.Table:
    """A parquet file as an Arrow table, from the local disk or through fsspec."""
    path = path if isinstance(path, Path | UPath) else resolve(path)
    with accessing(path):
        return files.read_parquet(path, columns)


def forget_listings(path: Path | UPath) -> None:
    """Drop fsspec's cached listings of `path`'s file system, so that a long-lived process
    (the sensor daemon, a code server) sees an object store as it is now, not as it was."""
    if not is_local(path):
        path.fs.invalidate_cache()


def open_input(path: UPath):
    """The file opened for Arrow's readers: a native Arrow file locally, fsspec's otherwise."""
    with accessing(path):
        return files.open_input(path)


def parquet_metadata(path: UPath) -> pq.FileMetaData:
    """The parquet footer (row count, schema, row-group statistics), without reading data."""
    with accessing(path):
        return files.parquet_metadata(path)


def parquet_batches(
    path: UPath, batch_rows: int, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """A parquet file's rows (`columns` of them), `batch_rows` at a time.

    Without Arrow's pre-buffering, which reads ahead the column chunks of every row group the
    reader will visit: 4 GiB for a 100M-row training table, where reading row group after row
    group holds one (1 GiB in all, and twice as fast).
    """
    with open_input(path) as handle:
        yield from pq.ParquetFile(handle, pre_buffer=False).iter_batches(
            batch_size=batch_rows, columns=columns
        )


def parquet_rows(path: UPath) -> int:
    """Row count from the parquet footer, without reading the data."""
    return parquet_metadata(path).num_rows


def state(path: UPath) -> list:
    """What any write to the file changes: its size and its modification time (local), or
    its size and the object's ETag or modification time (object stores)."""
    if is_local(path):
        stat = path.stat()
        return [stat.st_size, stat.st_mtime_ns]
    forget_listings(path)
    with accessing(path):
        info = path.fs.info(path.path)
    marker = next(
        (
            info[key]
            for key in ("ETag", "etag", "md5Hash", "LastModified", "mtime", "updated", "created")
            if info.get(key) is not None
        ),
        None,
    )
    return [int(info.get("size") or 0), str(marker)]
