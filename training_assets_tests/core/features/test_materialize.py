"""Materializing the real feature repo into the online store: files made by Feast's generator
(nanosecond times, float64/int64 widths) and by ours, an initial load over the
data's range, then an incremental one. What the online store serves equals what the
point-in-time join gives at a time after the newest row."""

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from feast.driver_test_data import create_driver_hourly_stats_df
from upath import UPath

from training_assets.core import paths
from training_assets.core.data.sample_data import SampleSpec, write_sample
from training_assets.core.features import feast_repo
from training_assets.core.schema import FEATURE_SERVICE

FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]
DRIVERS = list(range(5001, 5011))


def feast_generated(path: Path, start: str, end: str, seed: int) -> Path:
    np.random.seed(seed)
    generated = create_driver_hourly_stats_df(
        DRIVERS, pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    ).rename(columns={"event_timestamp": "datetime"})
    generated[["datetime", "driver_id", *FEATURES, "created"]].to_parquet(path, index=False)
    return path


def ours(path: Path) -> Path:
    write_sample(SampleSpec(n_orders=10, n_drivers=8, days=3), path.parent / "o.parquet", path)
    return path


def applied_store(tmp_path: Path, stats: Path):
    store = feast_repo.feature_store(
        paths.feature_repo(),
        registry=tmp_path / "feast" / "registry.db",
        online_store=tmp_path / "feast" / "online.db",
    )
    feast_repo.apply_repo(store, paths.feature_repo(), stats)
    return store


def online(store, drivers) -> pd.DataFrame:
    return (
        store.get_online_features(
            features=store.get_feature_service(FEATURE_SERVICE),
            entity_rows=[{"driver_id": int(d)} for d in drivers],
        )
        .to_df()
        .set_index("driver_id")[FEATURES]
    )


def joined_after_newest_row(store, stats: Path) -> pd.DataFrame:
    frame = pd.read_parquet(stats)
    drivers = sorted(frame["driver_id"].unique())
    after = pd.to_datetime(frame["datetime"], utc=True).max() + pd.Timedelta(seconds=1)
    entity = pd.DataFrame(
        {"driver_id": np.array(drivers, dtype=np.int64), "event_timestamp": after}
    )
    joined = feast_repo.historical_table(store, entity, FEATURE_SERVICE).to_pandas()
    return joined.set_index("driver_id")[FEATURES]


@pytest.mark.parametrize("writer", ["feast_generator", "sample_generator"])
def test_the_online_store_serves_what_the_join_gives_after_the_newest_row(
    working_area, tmp_path, writer
):
    stats = tmp_path / "driver_stats.parquet"
    if writer == "feast_generator":
        feast_generated(stats, "2021-04-01", "2021-04-03", seed=3)
        assert pq.read_schema(stats).field("datetime").type.unit == "ns"
    else:
        ours(stats)
    store = applied_store(tmp_path, stats)

    [loaded] = feast_repo.materialize_online(store, FEATURE_SERVICE)

    assert loaded["how"] == "initial"
    expected = joined_after_newest_row(store, stats)
    served = online(store, expected.index)
    assert not served.isna().any().any()
    pd.testing.assert_frame_equal(served, expected, check_dtype=False)


def test_new_rows_are_loaded_incrementally_and_nothing_when_nothing_is_new(working_area, tmp_path):
    stats = feast_generated(tmp_path / "driver_stats.parquet", "2021-04-01", "2021-04-02", 5)
    store = applied_store(tmp_path, stats)
    [first] = feast_repo.materialize_online(store, FEATURE_SERVICE)
    before = online(store, DRIVERS)

    # An hour after the newest row, each driver gets a new row.
    older = pd.read_parquet(stats)
    hour = older["datetime"].max() + pd.Timedelta(hours=1)
    newer = pd.DataFrame(
        {
            "datetime": hour,
            "driver_id": np.array(DRIVERS, dtype=np.int64),
            "conv_rate": np.linspace(0.1, 0.9, len(DRIVERS)),
            "acc_rate": np.linspace(0.9, 0.1, len(DRIVERS)),
            "avg_daily_trips": np.arange(len(DRIVERS), dtype=np.int64),
            "created": hour,
        }
    )
    pd.concat([older, newer], ignore_index=True).to_parquet(stats, index=False)
    [second] = feast_repo.materialize_online(store, FEATURE_SERVICE)
    [third] = feast_repo.materialize_online(store, FEATURE_SERVICE)

    assert first["how"] == "initial"
    assert second["how"] == "incremental"
    assert second["start"] == first["end"]
    assert third["how"] == "up to date"
    after = online(store, DRIVERS)
    assert not after.equals(before)
    assert after["avg_daily_trips"].tolist() == list(range(len(DRIVERS)))
    pd.testing.assert_frame_equal(
        after, joined_after_newest_row(store, stats).loc[DRIVERS], check_dtype=False
    )


def test_a_stats_file_in_an_object_store_joins_and_materializes_like_a_local_one(
    working_area, tmp_path
):
    """fsspec's in-memory file system stands in for a bucket: the same fsspec calls as S3."""
    local = feast_generated(tmp_path / "driver_stats.parquet", "2021-04-01", "2021-04-03", 7)
    remote = UPath(f"memory://features-{uuid.uuid4().hex[:8]}/driver_stats.parquet")
    remote.write_bytes(local.read_bytes())
    try:
        local_store = applied_store(tmp_path / "local", local)
        remote_store = applied_store(tmp_path / "remote", remote)
        [loaded] = feast_repo.materialize_online(remote_store, FEATURE_SERVICE)

        expected = joined_after_newest_row(local_store, local)
        joined = joined_after_newest_row(remote_store, local)
        served = online(remote_store, expected.index)
    finally:
        remote.fs.rm(remote.parent.path, recursive=True)

    assert remote_store.get_feature_view("driver_stats").batch_source.path == str(remote)
    assert loaded["how"] == "initial"
    pd.testing.assert_frame_equal(joined, expected)
    assert not served.isna().any().any()
    pd.testing.assert_frame_equal(served, expected, check_dtype=False)
