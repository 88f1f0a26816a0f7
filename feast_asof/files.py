"""A feature view's parquet file, read from the local disk or through fsspec.

A location is a local path or an fsspec URL (`s3://bucket/stats.parquet`, `gs://...`,
`memory://...`), opened with universal-pathlib; credentials and endpoints come from the file
system's own environment (`AWS_*` for S3, or fsspec's `FSSPEC_<PROTOCOL>_<OPTION>`). A read
that lacks columns names the file, each missing column and what the view wanted it for.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

_LOCAL_PROTOCOLS = ("", "file", "local")
_MASK = "***"


class MissingColumnsError(ValueError):
    """A file lacks columns that its reader needs."""


def resolve(location: str | os.PathLike) -> UPath:
    """`location` as a path object: a local path made absolute, a URL kept as given.

    Raises:
        ImportError, ValueError: for a scheme fsspec does not know or whose package is not
            installed, when the path is made rather than when it is first read.
    """
    text = os.fspath(location)
    if "://" not in text:
        return UPath(Path(text).expanduser().resolve())
    if text.startswith(("file://", "local://")):
        return UPath(Path(text.split("://", 1)[1]).resolve())
    path = UPath(text)
    path.fs  # noqa: B018 (the file system is made lazily; a missing package shows here)
    return path


def is_local(path: Path | UPath) -> bool:
    """Whether `path` is on the local disk (a plain `Path` is)."""
    return getattr(path, "protocol", "") in _LOCAL_PROTOCOLS


def shown(location: object) -> str:
    """`location` as an error names it: a URL's password, and its query, which may carry a
    token or a signature, replaced by ***."""
    text = str(location)
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return _MASK
    netloc = parts.netloc
    if password is not None:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.partition(':')[0]}:{_MASK}@{host}"
    query = _MASK if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def open_input(path: Path | UPath):
    """The file opened for Arrow's readers: a native Arrow file locally, fsspec's otherwise."""
    if is_local(path):
        return pa.OSFile(str(path))
    return path.open("rb")


def parquet_metadata(path: Path | UPath) -> pq.FileMetaData:
    """The parquet footer (row count, schema, row-group statistics), without reading data."""
    with open_input(path) as handle:
        return pq.ParquetFile(handle).metadata


def read_parquet(path: str | Path | UPath, columns: list[str] | None = None) -> pa.Table:
    """A parquet file as an Arrow table, from the local disk or through fsspec."""
    path = path if isinstance(path, Path | UPath) else resolve(path)
    if is_local(path):
        return pq.read_table(str(path), columns=columns)
    return pq.read_table(path.path, columns=columns, filesystem=path.fs)


def read_parquet_columns(path: str | Path | UPath, roles: Mapping[str, str]) -> pa.Table:
    """The columns `roles` names of a parquet file; each maps to what it is for ("the view
    driver_stats's timestamp"), which the error for a missing one says.

    Raises:
        MissingColumnsError: see `check_parquet_columns`.
    """
    path = path if isinstance(path, Path | UPath) else resolve(path)
    try:
        return read_parquet(path, list(roles))
    except pa.ArrowInvalid:
        # Arrow names the first missing field only, and not the file. The footer is read after
        # a failed read only, so a good file costs nothing more.
        check_parquet_columns(path, roles)
        raise


def check_parquet_columns(path: str | Path | UPath, roles: Mapping[str, str]) -> None:
    """Check from its footer that a parquet file holds the columns `roles` names.

    Raises:
        MissingColumnsError: naming the file, each missing column and what it is for, the
            columns expected and those found.
    """
    path = path if isinstance(path, Path | UPath) else resolve(path)
    found = parquet_metadata(path).schema.to_arrow_schema().names
    missing = [column for column in roles if column not in found]
    if missing:
        described = ", ".join(f"{column!r} ({roles[column]})" for column in missing)
        raise MissingColumnsError(
            f"{shown(path)}: missing column(s) {described}; expected {list(roles)}, found {found}"
        )


def view_column_roles(
    view: str,
    keys: dict[str, str],
    features: dict[str, str],
    timestamp: str,
    created: str | None,
) -> dict[str, str]:
    """Each source column that is read of a feature view's file (`keys` and `features` map a
    name in the view to its column in the file), with what it is for, for error messages."""
    roles = {column: f"join key of the view {view!r}" for column in keys.values()}
    for name, column in features.items():
        roles.setdefault(column, f"feature {name!r} of the view {view!r}")
    roles.setdefault(timestamp, f"timestamp_field of the view {view!r}")
    if created:
        roles.setdefault(created, f"created_timestamp_column of the view {view!r}")
    return roles
