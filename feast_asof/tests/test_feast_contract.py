"""The rest of Feast's offline-store contract on the ASOF store, each case against Feast's own
`duckdb` store on the same registry: saved datasets (a retrieval job persisted and read back)
and sources that Feast's writer appended to (`write_to_offline_store`, a push to the offline
store), whose times it stores as text."""

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, PushSource, ValueType
from feast.data_source import PushMode
from feast.errors import SavedDatasetLocationAlreadyExists
from feast.infra.offline_stores.file_source import SavedDatasetFileStorage
from feast.types import Float32, Int64

from feast_asof.store import AsofRetrievalJob
from feast_asof.tests.test_store import (
    ASOF,
    parquet_source,
    repo_config,
)

NOW = pd.Timestamp("2026-03-02", tz="UTC")
DRIVERS = np.arange(1, 6, dtype=np.int64)
FEATURES = ["stats:rate", "stats:trips"]


def stats_frame() -> pd.DataFrame:
    """Hourly rows for five drivers over a day, as timestamps."""
    hours = pd.date_range(end=NOW, periods=24, freq="h")
    frame = pd.DataFrame(
        {"driver_id": np.repeat(DRIVERS, len(hours)), "datetime": np.tile(hours, len(DRIVERS))}
    )
    frame["created"] = frame["datetime"] + pd.Timedelta(minutes=5)
    frame["rate"] = np.linspace(0, 1, len(frame)).astype(np.float32)
    frame["trips"] = np.arange(len(frame), dtype=np.int64)
    return frame


@pytest.fixture
def stores(tmp_path: Path) -> tuple[FeatureStore, FeatureStore]:
    """The ASOF and duckdb stores on one registry, a view over a stats file and a push source."""
    stats_frame().to_parquet(tmp_path / "stats.parquet", index=False)
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    # The view reads the file through a push source, as a view that takes pushes does.
    pushed = PushSource(
        name="stats_push", batch_source=parquet_source("stats_source", tmp_path / "stats.parquet")
    )
    view = FeatureView(
        name="stats",
        entities=[driver],
        ttl=timedelta(days=1),
        schema=[Field(name="rate", dtype=Float32), Field(name="trips", dtype=Int64)],
        source=pushed,
    )
    asof = FeatureStore(
        config=repo_config(tmp_path, {"type": ASOF, "temp_directory": str(tmp_path / "tmp")})
    )
    asof.apply([driver, view, pushed])
    return asof, FeatureStore(config=repo_config(tmp_path, {"type": "duckdb"}))


def entities(hours_after_now: float = 2) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": DRIVERS,
            "event_timestamp": [NOW + pd.Timedelta(hours=hours_after_now)] * len(DRIVERS),
        }
    )


def joined(store: FeatureStore, entity_df: pd.DataFrame) -> pd.DataFrame:
    frame = store.get_historical_features(entity_df=entity_df, features=FEATURES).to_df()
    return frame.sort_values("driver_id").reset_index(drop=True)


def appended_rows(hours_after_now: float) -> pd.DataFrame:
    """A correction for drivers 1 and 2, an hour after the file's last rows."""
    at = NOW + pd.Timedelta(hours=hours_after_now)
    return pd.DataFrame(
        {
            "driver_id": np.array([1, 2], dtype=np.int64),
            "datetime": [at, at],
            "created": [at, at],
            "rate": np.array([0.25, 0.75], dtype=np.float32),
            "trips": np.array([-1, -2], dtype=np.int64),
        }
    )


def test_a_retrieval_job_persists_as_a_saved_dataset_and_reads_back_like_duckdbs(stores, tmp_path):
    asof, duck = stores
    saved = {}
    for name, store in (("asof", asof), ("duck", duck)):
        job = store.get_historical_features(entity_df=entities(), features=FEATURES)
        storage = SavedDatasetFileStorage(path=str(tmp_path / f"{name}_saved.parquet"))
        store.create_saved_dataset(from_=job, name=f"{name}_saved", storage=storage)
        saved[name] = store.get_saved_dataset(f"{name}_saved").to_df()
        assert isinstance(job, AsofRetrievalJob) == (name == "asof")

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values("driver_id").reset_index(drop=True)[sorted(frame.columns)]

    pd.testing.assert_frame_equal(ordered(saved["asof"]), ordered(saved["duck"]))
    assert (
        ordered(saved["asof"])["trips"].tolist()
        == ordered(joined(asof, entities()))["trips"].tolist()
    )


def test_a_saved_dataset_is_not_written_over_unless_allowed(stores, tmp_path):
    asof, _ = stores
    job = asof.get_historical_features(entity_df=entities(), features=FEATURES)
    storage = SavedDatasetFileStorage(path=str(tmp_path / "saved.parquet"))
    job.persist(storage)

    with pytest.raises(SavedDatasetLocationAlreadyExists):
        job.persist(storage)
    job.persist(storage, allow_overwrite=True)
    assert pq.read_table(tmp_path / "saved.parquet").num_rows == len(DRIVERS)


def test_rows_written_by_feast_join_like_duckdbs(stores, tmp_path):
    asof, duck = stores
    asof.write_to_offline_store("stats", appended_rows(1))
    # Feast's writer keeps the appended file's times as text; the join must read them.
    assert pa.types.is_string(pq.read_schema(tmp_path / "stats.parquet").field("datetime").type)

    got = joined(asof, entities())

    pd.testing.assert_frame_equal(got, joined(duck, entities()))
    assert got.loc[got["driver_id"].isin([1, 2]), "trips"].tolist() == [-1, -2]


def test_rows_pushed_to_the_offline_store_join_like_duckdbs(stores):
    asof, duck = stores
    asof.push("stats_push", appended_rows(1), to=PushMode.OFFLINE)

    got = joined(asof, entities())

    pd.testing.assert_frame_equal(got, joined(duck, entities()))
    assert got.loc[got["driver_id"].isin([1, 2]), "rate"].tolist() == [0.25, 0.75]


def test_a_time_that_is_no_time_is_named_with_its_file_and_column(stores, tmp_path):
    asof, _ = stores
    frame = stats_frame().astype({"datetime": str})
    frame.loc[7, "datetime"] = "yesterday"
    frame.to_parquet(tmp_path / "stats.parquet", index=False)

    with pytest.raises(ValueError) as error:
        joined(asof, entities())

    message = str(error.value)
    assert "stats.parquet: column 'datetime'" in message
    assert "'yesterday'" in message
