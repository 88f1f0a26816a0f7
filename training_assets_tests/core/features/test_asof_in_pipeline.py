"""The ASOF offline store (`feast_asof`, tested on its own in feast_asof/tests) as the pipeline
uses it: on the project's declared source, opened by `feast_repo.feature_store` (spilling into
the working area, timed for the benchmark) and agreeing with the pipeline's pandas lookup."""

import runpy
from datetime import timedelta
from pathlib import Path

import pandas as pd
import yaml
from feast import FeatureView, Field, FileSource
from feast.types import Float32
from hypothesis import given, settings
from hypothesis import strategies as st

from feast_asof.store import AsofDuckDBOfflineStoreConfig, AsofRetrievalJob
from feast_asof.tests.test_created_filter import RANDOM_FEATURES, orders_at, write_random
from feast_asof.tests.test_store import ASOF, PROJECT, Repo, assert_parity, stats_refs
from training_assets.core import paths, timing
from training_assets.core.data.point_in_time import features_as_of
from training_assets.core.features import feast_repo
from training_assets.core.schema import PROVENANCE_PREFIX


def test_project_feature_source_takes_the_asof_path(repo: Repo, entity: pd.DataFrame):
    """A FileSource declared as feature_repo/ declares it gets the ASOF join, not a fallback."""
    project_source = runpy.run_path(str(paths.FEATURE_REPO / "driver_repo.py"))[
        "driver_stats_source"
    ]
    view = FeatureView(
        name="driver_stats_project_source",
        entities=[repo.objects["driver"]],
        ttl=timedelta(days=1),
        schema=[Field(name="conv_rate", dtype=Float32)],
        source=FileSource(
            name="project_declared_source",
            path=str(repo.root / "stats.parquet"),
            file_format=project_source.file_format,
            timestamp_field=project_source.timestamp_field,
            created_timestamp_column=project_source.created_timestamp_column,
            field_mapping=project_source.field_mapping,
        ),
    )
    repo.asof.apply([view])

    assert_parity(repo, entity, ["driver_stats_project_source:conv_rate"])


def test_the_projects_settings_name_the_store_spilling_into_the_working_area(tmp_path: Path):
    store = feast_repo.feature_store(
        paths.FEATURE_REPO, registry=tmp_path / "registry.db", online_store=tmp_path / "online.db"
    )

    offline = store.config.offline_store
    assert isinstance(offline, AsofDuckDBOfflineStoreConfig)
    assert offline.temp_directory == str(paths.working_area() / "duckdb_tmp")


def test_a_join_through_the_pipelines_store_is_timed_and_has_provenance(
    repo: Repo, entity: pd.DataFrame, tmp_path: Path
):
    folder = tmp_path / "feature_repo"
    folder.mkdir()
    settings_file = {"project": PROJECT, "provider": "local", "offline_store": {"type": ASOF}}
    (folder / "feature_store.yaml").write_text(yaml.safe_dump(settings_file))
    store = feast_repo.feature_store(
        folder,
        registry=repo.root / "registry.db",
        online_store=tmp_path / "online.db",
        provenance=True,
    )

    with timing.recording() as calls:
        job = store.get_historical_features(entity_df=entity, features=stats_refs())
        got = job.to_df()

    assert isinstance(job, AsofRetrievalJob)
    assert calls["asof_join"]["calls"] == 1
    assert f"{PROVENANCE_PREFIX}driver_stats__timestamp" in got.columns
    assert (paths.working_area() / "duckdb_tmp").is_dir()


@settings(max_examples=30, deadline=None, database=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(1, 2),  # driver
            st.integers(0, 3),  # hour
            st.one_of(st.none(), st.integers(0, 2)),  # created, minutes after the hour
            st.floats(-1e3, 1e3, allow_nan=False),
            st.integers(-100, 100),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_pandas_lookup_picks_the_offline_stores_version(repo: Repo, rows):
    """The sample generator's and drift sensor's lookup and the ASOF store agree on which
    version of a driver-hour counts, nulls in `created` and ties included."""
    write_random(repo, rows)
    # Orders inside every version's TTL, so the store's TTL decides nothing.
    entity = orders_at([1, 2] * 4, [60 * hour + 30 for hour in range(4) for _ in (1, 2)])

    got = repo.asof.get_historical_features(entity_df=entity, features=RANDOM_FEATURES).to_df()
    looked_up = features_as_of(entity, pd.read_parquet(repo.random_path))

    pd.testing.assert_series_equal(
        got["value"], looked_up["value"].astype("float64"), check_names=False
    )
