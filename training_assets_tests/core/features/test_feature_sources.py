"""The feature files that a service's views read, as the feature_times_not_null gate judges
them: paths resolved against the repo, time columns named as the file names them."""

from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, RepoConfig
from feast.types import Float64

from training_assets.core.features.feast_repo import feature_sources
from training_assets.core.gates.data_gates import feature_times_not_null
from training_assets.core.schema import FeatureSource


def test_a_mapped_view_is_judged_on_its_files_own_columns(tmp_path):
    # A source whose file names its times `ts` and `written`, mapped to the view's names.
    (tmp_path / "data").mkdir()
    hours = pd.date_range("2025-12-01", periods=4, freq="h", tz="UTC")
    pd.DataFrame(
        {
            "driver_id": [1, 1, 2, 2],
            "ts": hours,
            "written": [hours[0], pd.NaT, hours[2], hours[3]],
            "rate": [0.1, 0.2, 0.3, 0.4],
        }
    ).to_parquet(tmp_path / "data" / "stats.parquet", index=False)
    source = FileSource(
        name="stats_source",
        path="data/stats.parquet",
        timestamp_field="event_time",
        created_timestamp_column="created_time",
        field_mapping={"ts": "event_time", "written": "created_time"},
    )
    driver = Entity(name="driver", join_keys=["driver_id"])
    view = FeatureView(
        name="stats",
        entities=[driver],
        ttl=timedelta(days=1),
        schema=[Field(name="rate", dtype=Float64)],
        source=source,
    )
    service = FeatureService(name="model", features=[view])
    store = FeatureStore(
        config=RepoConfig(
            project="sources",
            provider="local",
            registry=str(tmp_path / "registry.db"),
            online_store={"type": "sqlite", "path": str(tmp_path / "online.db")},
            offline_store={"type": "duckdb"},
            entity_key_serialization_version=3,
            repo_path=tmp_path,
        )
    )
    store.apply([driver, view, service])

    sources = feature_sources(store, "model")

    path = str(tmp_path / "data" / "stats.parquet")
    assert sources == [FeatureSource("stats", path, "ts", "written", keys=("driver_id",))]
    outcome = feature_times_not_null(sources, 0.0)
    assert not outcome.passed
    assert outcome.evidence["null_counts"] == {"stats.ts": 0, "stats.written": 1}
    assert outcome.evidence["files"] == {"stats": path}
