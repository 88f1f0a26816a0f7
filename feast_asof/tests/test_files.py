"""Feature files read from the local disk and through fsspec (feast_asof.files), and the error
for a file that lacks a column the view reads."""

from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feast_asof import files

ROLES = {"driver_id": "join key of the view 'stats'", "rate": "feature 'rate' of the view 'stats'"}


@pytest.fixture
def in_memory():
    """A parquet file in fsspec's in-memory file system, removed afterwards."""
    fs = fsspec.filesystem("memory")
    with fs.open("/feast_asof_tests/stats.parquet", "wb") as handle:
        pq.write_table(pa.table({"driver_id": [1, 2], "rate": [0.5, 0.25]}), handle)
    yield "memory://feast_asof_tests/stats.parquet"
    fs.rm("/feast_asof_tests", recursive=True)


def test_a_local_file_and_an_fsspec_url_read_alike(in_memory: str, tmp_path: Path):
    local = tmp_path / "stats.parquet"
    pq.write_table(files.read_parquet(in_memory), local)

    assert not files.is_local(files.resolve(in_memory))
    assert files.is_local(files.resolve(str(local)))
    assert files.is_local(files.resolve(f"file://{local}"))
    remote = files.read_parquet_columns(in_memory, ROLES)
    assert remote.equals(files.read_parquet_columns(str(local), ROLES))
    assert remote.column("rate").to_pylist() == [0.5, 0.25]


def test_a_missing_column_is_named_with_the_file_and_its_role(in_memory: str):
    roles = {**ROLES, "created": "created_timestamp_column of the view 'stats'"}

    with pytest.raises(files.MissingColumnsError) as raised:
        files.read_parquet_columns(in_memory, roles)

    message = str(raised.value)
    assert "stats.parquet: missing column(s) 'created' (created_timestamp_column" in message
    assert message.startswith("memory://")
    assert message.endswith("found ['driver_id', 'rate']")


def test_an_error_names_a_url_without_its_password_or_query(tmp_path: Path):
    pd.DataFrame({"driver_id": [1]}).to_parquet(tmp_path / "stats.parquet")
    with pytest.raises(files.MissingColumnsError, match=f"^{tmp_path}/stats.parquet: "):
        files.check_parquet_columns(str(tmp_path / "stats.parquet"), ROLES)

    shown = files.shown("s3://key:secret@bucket/stats.parquet?X-Amz-Signature=abc")

    assert shown == "s3://key:***@bucket/stats.parquet?***"
    assert files.shown("s3://bucket/stats.parquet") == "s3://bucket/stats.parquet"
    assert files.shown(tmp_path / "stats.parquet") == str(tmp_path / "stats.parquet")
