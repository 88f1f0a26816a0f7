"""Locations: local paths, file:// URLs and fsspec URLs read alike, for the orders reader,
the data versions and the change detection.

fsspec's in-memory file system stands in for an object store here (it goes through the same
fsspec calls as S3); the S3 path itself is tested against an S3-compatible server in
`e2e/test_object_store.py`.
"""

import uuid

import numpy as np
import pandas as pd
import pytest
from feast.driver_test_data import create_orders_df
from upath import UPath

from training_assets.core.data import fingerprints, locations, snapshot
from training_assets.core.data.orders import OrdersError, count_orders, order_files, read_orders

DRIVERS = [5001, 5002, 5003]


@pytest.fixture
def feast_orders() -> pd.DataFrame:
    """Orders in the layout Feast's own generator writes, label as trip_completed."""
    np.random.seed(5)
    frame = create_orders_df(
        customers=[1, 2],
        drivers=DRIVERS,
        start_date=pd.Timestamp("2021-04-01", tz="UTC"),
        end_date=pd.Timestamp("2021-04-05", tz="UTC"),
        order_count=60,
    )
    return frame.rename(columns={"order_is_success": "trip_completed"})


@pytest.fixture
def bucket():
    """A fresh folder in fsspec's in-memory file system, removed afterwards."""
    root = UPath(f"memory://bucket-{uuid.uuid4().hex[:8]}/")
    root.mkdir(parents=True, exist_ok=True)
    yield root
    root.fs.rm(root.path, recursive=True)


def _write(path: UPath, frame: pd.DataFrame, kind: str) -> None:
    with path.open("wb") as handle:
        if kind == "parquet":
            frame.to_parquet(handle, index=False)
        else:
            frame.to_csv(handle, index=False, sep="\t" if kind == "tsv" else ",")


def test_local_paths_and_file_urls_resolve_to_the_same_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    relative = locations.resolve("data/orders")
    url = locations.resolve((tmp_path / "data" / "orders").as_uri())

    assert locations.is_local(relative) and locations.is_local(url)
    assert str(relative) == str(url) == str(tmp_path / "data" / "orders")


def test_a_url_is_kept_with_its_scheme(bucket):
    path = locations.resolve(f"{bucket}/orders/")

    assert not locations.is_local(path)
    assert str(path).startswith("memory://bucket-")


def test_an_unknown_scheme_names_the_location():
    with pytest.raises(locations.LocationError, match="nosuchfs://bucket/orders"):
        locations.resolve("nosuchfs://bucket/orders")


def test_orders_folder_in_an_object_store_reads_like_a_local_one(tmp_path, bucket, feast_orders):
    halves = {"a.parquet": feast_orders.iloc[:30], "b.tsv": feast_orders.iloc[30:]}
    (tmp_path / "orders").mkdir()
    for name, frame in halves.items():
        kind = name.rsplit(".", 1)[1]
        _write(UPath(tmp_path / "orders" / name), frame, kind)
        _write(bucket / "orders" / name, frame, kind)
    _write(bucket / "orders" / ".c.parquet.part", feast_orders, "parquet")  # still copying

    remote = locations.resolve(str(bucket / "orders"))
    local = locations.resolve(tmp_path / "orders")

    assert [p.name for p in order_files(remote)] == ["a.parquet", "b.tsv"]
    assert count_orders(remote) == count_orders(local) == len(feast_orders)
    pd.testing.assert_frame_equal(read_orders(remote), read_orders(local))
    # Data versions depend on names and bytes, not on where the files are.
    assert fingerprints.content_digest(order_files(remote)) == fingerprints.content_digest(
        order_files(local)
    )


def test_missing_object_store_location_names_the_url(bucket):
    with pytest.raises(OrdersError, match=str(bucket / "nothing-here")):
        order_files(locations.resolve(str(bucket / "nothing-here")))


def test_a_rewritten_object_changes_its_signature_and_fails_the_snapshot(bucket, feast_orders):
    path = bucket / "orders.parquet"
    _write(path, feast_orders, "parquet")
    before = snapshot.file_states([path])
    assert fingerprints.signatures([path]) == before

    _write(path, feast_orders.iloc[:10], "parquet")

    assert fingerprints.signatures([path]) != before
    with pytest.raises(snapshot.SnapshotChanged, match="orders.parquet"):
        snapshot.verify_unchanged(before, [path])


def test_read_parquet_from_a_url_selects_columns(bucket, feast_orders):
    path = bucket / "orders.parquet"
    _write(path, feast_orders, "parquet")

    table = locations.read_parquet(str(path), columns=["driver_id"])

    assert table.column_names == ["driver_id"]
    assert table.column("driver_id").to_pylist() == feast_orders["driver_id"].tolist()
