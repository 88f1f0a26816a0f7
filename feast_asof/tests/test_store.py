"""Parity of the ASOF offline store with Feast's built-in `duckdb` offline store.

Two FeatureStore objects share one registry in a temporary directory: one with the ASOF store,
one with Feast's `duckdb` store. For a pandas entity frame, `get_historical_features().to_df()`
must give the same frame through both (columns, column order, dtypes and values), except that
the ASOF store keeps the entity frame's row order where Feast's order is arbitrary. Every
comparison also checks that the ASOF store took its own join rather than falling back to the
DuckDB store's, which would make the parity hold trivially.
"""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import fsspec
import numpy as np
import pandas as pd
import pytest
from feast import (
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    Field,
    FileSource,
    ValueType,
)
from feast.data_format import ParquetFormat
from feast.repo_config import RepoConfig
from feast.types import Float32, Float64, Int32, Int64
from hypothesis import given, settings
from hypothesis import strategies as st

import feast_asof.store as asof_module
from feast_asof.store import AsofRetrievalJob

ASOF = "feast_asof.store.AsofDuckDBOfflineStore"
PROJECT = "asof_parity"
POSITION = "position"
STATS_FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]
RANDOM_TTL = timedelta(hours=6)
# The random property test's time grid starts here; hours are offsets from it.
RANDOM_START = pd.Timestamp("2026-03-01", tz="UTC")

# The generated stats: hourly rows of four drivers over three days that end here.
STATS_END = pd.Timestamp("2026-01-01", tz="UTC")
DAYS = 3
FIRST_DRIVER_ID = 1001
UNKNOWN_DRIVER_ID = 9001


# --- the repo: entity, sources, views and services on files in a temporary directory ---------


@dataclass(repr=False)
class Repo:
    root: Path
    asof: FeatureStore
    duckdb: FeatureStore
    stats: pd.DataFrame
    trips: pd.DataFrame
    random_path: Path
    objects: dict

    def config(self, offline_store: dict, **extra) -> RepoConfig:
        return repo_config(self.root, offline_store, **extra)

    def __repr__(self) -> str:  # hypothesis prints the fixture with each failing example
        return f"Repo({self.root})"


def repo_config(root: Path, offline_store: dict, **extra) -> RepoConfig:
    return RepoConfig(
        project=PROJECT,
        provider="local",
        registry=str(root / "registry.db"),
        online_store={"type": "sqlite", "path": str(root / "online_store.db")},
        offline_store=offline_store,
        entity_key_serialization_version=3,
        repo_path=root,
        **extra,
    )


def parquet_source(name: str, path: Path | str, **kwargs) -> FileSource:
    return FileSource(
        name=name,
        path=str(path),
        file_format=ParquetFormat(),
        timestamp_field="datetime",
        created_timestamp_column="created",
        **kwargs,
    )


def driver_stats(drivers: int = 4, seed: int = 5) -> pd.DataFrame:
    """Hourly stats per driver, each row created as its hour closes; a fifth of the
    driver-hours also carry a stale version, created four minutes earlier with other values,
    as a late correction leaves behind."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range(end=STATS_END, periods=DAYS * 24, freq="h")
    ids = np.arange(FIRST_DRIVER_ID, FIRST_DRIVER_ID + drivers, dtype=np.int64)
    frame = pd.DataFrame(
        {"driver_id": np.repeat(ids, len(hours)), "datetime": np.tile(hours, drivers)}
    )
    frame["created"] = frame["datetime"]
    frame["conv_rate"] = rng.uniform(0, 1, len(frame)).astype(np.float32)
    frame["acc_rate"] = rng.uniform(0, 1, len(frame)).astype(np.float32)
    frame["avg_daily_trips"] = rng.integers(0, 60, len(frame)).astype(np.int32)
    stale = frame.sample(frac=0.2, random_state=seed).assign(
        created=lambda rows: rows["created"] - pd.Timedelta(minutes=4),
        conv_rate=lambda rows: rows["conv_rate"] / 2,
        avg_daily_trips=np.int32(-1),
    )
    return pd.concat([frame, stale], ignore_index=True)


def orders(stats: pd.DataFrame, count: int = 300, seed: int = 6) -> pd.DataFrame:
    """Orders at random seconds over the stats' days; one in twenty on a driver without stats
    and one in twenty three days before the first stats row, so the join has gaps to leave."""
    rng = np.random.default_rng(seed)
    start = STATS_END - pd.Timedelta(days=DAYS)
    frame = pd.DataFrame(
        {
            "event_timestamp": start + pd.to_timedelta(rng.integers(0, DAYS * 86_400, count), "s"),
            "driver_id": rng.choice(stats["driver_id"].unique(), count).astype(np.int64),
            "trip_completed": rng.integers(0, 2, count).astype(np.int64),
        }
    )
    gap = rng.random(count)
    frame.loc[gap < 0.05, "driver_id"] = UNKNOWN_DRIVER_ID
    frame.loc[(gap >= 0.05) & (gap < 0.1), "event_timestamp"] = start - pd.Timedelta(days=3)
    return frame


def trips_frame(stats: pd.DataFrame) -> pd.DataFrame:
    """A second feature table: every 4 hours per driver, an Int64 and a Float64 feature."""
    rng = np.random.default_rng(11)
    hours = pd.date_range(end=STATS_END, periods=DAYS * 6, freq="4h")
    drivers = np.sort(stats["driver_id"].unique())
    frame = pd.DataFrame(
        {
            "driver_id": np.repeat(drivers, len(hours)),
            "datetime": np.tile(hours, len(drivers)),
        }
    )
    frame["created"] = frame["datetime"] + pd.Timedelta(minutes=1)
    frame["total_trips"] = rng.integers(0, 10_000, len(frame)).astype(np.int64)
    frame["rating"] = rng.uniform(1, 5, len(frame))
    # Stale versions of some rows, written later in the file than the rows that supersede them.
    stale = frame.sample(frac=0.3, random_state=3).copy()
    stale["created"] -= pd.Timedelta(seconds=30)
    stale["total_trips"] = -1
    stale["rating"] = -1.0
    return pd.concat([frame, stale], ignore_index=True)


def shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Rows in random order, so that no store can rely on the file's order."""
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    root = tmp_path_factory.mktemp("asof_repo")
    stats = driver_stats()
    shuffled(stats, 1).to_parquet(root / "stats.parquet", index=False)
    trips = trips_frame(stats)
    shuffled(trips, 2).to_parquet(root / "trips.parquet", index=False)
    # The stats again, with source column names that differ from the features' and the key's.
    mapped = stats.rename(columns={"conv_rate": "conversion", "driver_id": "driver"})
    shuffled(mapped, 3).to_parquet(root / "mapped.parquet", index=False)
    random_path = root / "random.parquet"
    random_frame([(1, 0, 0, 0.5, 1)]).to_parquet(random_path, index=False)

    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    stats_source = parquet_source("stats_source", root / "stats.parquet")
    driver_stats_view = FeatureView(
        name="driver_stats",
        entities=[driver],
        ttl=timedelta(days=1),
        schema=[
            Field(name="conv_rate", dtype=Float32),
            Field(name="acc_rate", dtype=Float32),
            Field(name="avg_daily_trips", dtype=Int32),
        ],
        source=stats_source,
    )
    trips_view = FeatureView(
        name="driver_trips",
        entities=[driver],
        ttl=timedelta(hours=6),
        schema=[Field(name="total_trips", dtype=Int64), Field(name="rating", dtype=Float64)],
        source=parquet_source("trips_source", root / "trips.parquet"),
    )
    mapped_view = FeatureView(
        name="driver_stats_mapped",
        entities=[driver],
        ttl=timedelta(days=1),
        schema=[
            # Feast cannot infer the entity column through the mapping; without this field the
            # view would have no join key at all.
            Field(name="driver_id", dtype=Int64),
            Field(name="conv_rate", dtype=Float32),
            Field(name="acc_rate", dtype=Float32),
        ],
        source=parquet_source(
            "mapped_source",
            root / "mapped.parquet",
            field_mapping={"conversion": "conv_rate", "driver": "driver_id"},
        ),
    )
    forever_view = FeatureView(
        name="driver_stats_forever",
        entities=[driver],
        ttl=timedelta(0),
        schema=[Field(name="conv_rate", dtype=Float32), Field(name="avg_daily_trips", dtype=Int32)],
        source=stats_source,
    )
    random_view = FeatureView(
        name="random_stats",
        entities=[driver],
        ttl=RANDOM_TTL,
        schema=[Field(name="value", dtype=Float64), Field(name="count", dtype=Int64)],
        source=parquet_source("random_source", random_path),
    )
    both = FeatureService(
        name="stats_and_trips",
        features=[driver_stats_view, trips_view[["rating", "total_trips"]]],
    )
    # Two projections of one view: one under an alias, one also keyed on another entity column.
    own_and_rider = FeatureService(
        name="own_and_rider",
        features=[
            driver_stats_view.with_name("own_stats").with_join_key_map({"driver_id": "driver_id"}),
            driver_stats_view.with_name("rider_stats").with_join_key_map({"driver_id": "rider_id"})[
                ["conv_rate"]
            ],
        ],
    )
    objects = {
        "driver": driver,
        "driver_stats": driver_stats_view,
        "driver_trips": trips_view,
        "driver_stats_mapped": mapped_view,
        "driver_stats_forever": forever_view,
        "random_stats": random_view,
        "stats_and_trips": both,
        "own_and_rider": own_and_rider,
    }
    asof = FeatureStore(
        config=repo_config(root, {"type": ASOF, "temp_directory": str(root / "duckdb_tmp")})
    )
    asof.apply(list(objects.values()))
    duck = FeatureStore(config=repo_config(root, {"type": "duckdb"}))
    return Repo(root, asof, duck, stats, trips, random_path, objects)


# --- the comparison -------------------------------------------------------------------------


def historical(store: FeatureStore, entity_df: pd.DataFrame, features, **kwargs):
    job = store.get_historical_features(entity_df=entity_df.copy(), features=features, **kwargs)
    return job, job.to_df()


def assert_parity(
    repo: Repo,
    entity_df: pd.DataFrame,
    features,
    asof: FeatureStore | None = None,
    duck: FeatureStore | None = None,
    **kwargs,
) -> pd.DataFrame:
    """The ASOF store's frame, after checking it against the duckdb store's; returns it."""
    entity = entity_df.assign(**{POSITION: np.arange(len(entity_df), dtype=np.int64)})
    job, got = historical(asof or repo.asof, entity, features, **kwargs)
    assert isinstance(job, AsofRetrievalJob), f"the ASOF store fell back to {type(job)}"
    _, expected = historical(duck or repo.duckdb, entity, features, **kwargs)
    # Rows come back in the entity frame's order, unsorted.
    assert got[POSITION].tolist() == list(range(len(entity)))
    expected = expected.sort_values(POSITION, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
    return got


def stats_refs(view: str = "driver_stats", names=STATS_FEATURES) -> list[str]:
    return [f"{view}:{name}" for name in names]


# --- 1. generated data: stale versions, duplicates, gaps, TTL, exact timestamps ------------


def generated_orders(stats: pd.DataFrame) -> pd.DataFrame:
    """The generator's orders plus every awkward case, in shuffled order."""
    frame = orders(stats)
    first_stats = stats["datetime"].min()
    rng = np.random.default_rng(7)
    # Driver-hours that carry a stale version: orders exactly at, and a minute after, them.
    stale = stats[stats.duplicated(["driver_id", "datetime"], keep=False)]
    stale = stale.drop_duplicates(["driver_id", "datetime"]).head(20)
    exact = pd.DataFrame(
        {
            "event_timestamp": pd.concat(
                [stale["datetime"], stale["datetime"] + pd.Timedelta(minutes=1)]
            ),
            "driver_id": pd.concat([stale["driver_id"], stale["driver_id"]]),
        }
    )
    extra = pd.DataFrame(
        {
            "event_timestamp": [
                first_stats - pd.Timedelta(hours=1),  # before any stats
                first_stats - pd.Timedelta(days=5),
                STATS_END + pd.Timedelta(days=1, hours=1),  # last stats row outside the TTL
                STATS_END + pd.Timedelta(days=1),  # exactly at the TTL's edge: included
                STATS_END + pd.Timedelta(hours=23),
                STATS_END - pd.Timedelta(hours=5),
            ],
            "driver_id": [FIRST_DRIVER_ID] * 5 + [UNKNOWN_DRIVER_ID],
        }
    )
    extra = pd.concat([exact, extra], ignore_index=True)
    extra["trip_completed"] = rng.integers(0, 2, len(extra))
    frame = pd.concat([frame, extra], ignore_index=True)
    # Exact duplicates of some orders (same driver_id and event_timestamp): all are kept.
    frame = pd.concat([frame, frame.sample(25, random_state=4)], ignore_index=True)
    return shuffled(frame, 5).astype({"driver_id": "int64", "trip_completed": "int64"})


@pytest.fixture(scope="module")
def entity(repo: Repo) -> pd.DataFrame:
    return generated_orders(repo.stats)


def latest_version(stats: pd.DataFrame, driver_id: int, at: pd.Timestamp) -> pd.Series:
    rows = stats[(stats["driver_id"] == driver_id) & (stats["datetime"] == at)]
    return rows.sort_values("created").iloc[-1]


def test_generated_orders_match_duckdb(repo: Repo, entity: pd.DataFrame):
    got = assert_parity(repo, entity, stats_refs())

    # The awkward cases are really there, and the joined values are the right ones.
    assert entity.duplicated(["driver_id", "event_timestamp"]).sum() >= 25
    assert len(got) == len(entity)
    stats_times = set(zip(repo.stats["driver_id"], repo.stats["datetime"], strict=True))
    exact = got[
        [
            (d, t) in stats_times
            for d, t in zip(got["driver_id"], got["event_timestamp"], strict=True)
        ]
    ]
    assert len(exact) >= 20
    versions = repo.stats.groupby(["driver_id", "datetime"]).size()
    assert (versions > 1).sum() >= 20
    for row in exact.itertuples():
        latest = latest_version(repo.stats, row.driver_id, row.event_timestamp)
        assert row.conv_rate == latest["conv_rate"]
        assert row.avg_daily_trips == latest["avg_daily_trips"]
    unknown = got["driver_id"] == UNKNOWN_DRIVER_ID
    early = got["event_timestamp"] < repo.stats["datetime"].min()
    expired = got["event_timestamp"] > STATS_END + pd.Timedelta(days=1)
    for gap in (unknown, early, expired):
        assert gap.any()
        assert got.loc[gap, STATS_FEATURES].isna().all().all()
    edge = got["event_timestamp"] == STATS_END + pd.Timedelta(days=1)
    assert edge.any() and got.loc[edge, STATS_FEATURES].notna().all().all()


# --- 2, 3. two views in one call, by service and by refs, with and without full names -------


@pytest.mark.parametrize("full_feature_names", [False, True], ids=["short", "full_names"])
@pytest.mark.parametrize("by", ["service", "refs"])
def test_two_views_in_one_call(repo: Repo, entity: pd.DataFrame, by: str, full_feature_names: bool):
    features = (
        repo.objects["stats_and_trips"]
        if by == "service"
        else [*stats_refs(), "driver_trips:total_trips", "driver_trips:rating"]
    )
    got = assert_parity(repo, entity, features, full_feature_names=full_feature_names)
    trips = "driver_trips__total_trips" if full_feature_names else "total_trips"
    conv = "driver_stats__conv_rate" if full_feature_names else "conv_rate"
    assert trips in got.columns and conv in got.columns
    # The two views' TTLs differ, so some rows have stats but no trips.
    assert (got[conv].notna() & got[trips].isna()).any()
    assert not (got[trips] == -1).any()  # no stale version won


# --- 4. field mapping -----------------------------------------------------------------------


def test_field_mapping(repo: Repo, entity: pd.DataFrame):
    got = assert_parity(repo, entity, stats_refs("driver_stats_mapped", ["conv_rate", "acc_rate"]))
    plain = assert_parity(repo, entity, stats_refs(names=["conv_rate", "acc_rate"]))
    pd.testing.assert_frame_equal(got, plain)


# --- 5. tz-naive and other-zone entity times ------------------------------------------------


@pytest.fixture(scope="module")
def utc_features(repo: Repo, entity: pd.DataFrame) -> pd.DataFrame:
    """Feast's features for the UTC entity frame, in the frame's order."""
    positioned = entity.assign(**{POSITION: np.arange(len(entity))})
    _, frame = historical(repo.duckdb, positioned, stats_refs())
    return frame.sort_values(POSITION).reset_index(drop=True)[STATS_FEATURES]


@pytest.mark.parametrize(
    "zone, coerce_tz_aware",
    [
        (None, True),
        ("America/New_York", True),
        ("Asia/Kolkata", True),
        (None, False),
        ("America/New_York", False),
        ("Asia/Kolkata", False),
    ],
    ids=["naive", "new_york", "kolkata", "naive-raw", "new_york-raw", "kolkata-raw"],
)
def test_entity_time_zones(
    repo: Repo,
    entity: pd.DataFrame,
    utc_features: pd.DataFrame,
    zone: str | None,
    coerce_tz_aware: bool,
):
    """Naive entity times are UTC; zoned ones are the same instants. `raw`: not coerced first."""
    entity = entity.copy()
    times = entity["event_timestamp"]
    entity["event_timestamp"] = times.dt.tz_convert(zone) if zone else times.dt.tz_localize(None)
    stores = {}
    if not coerce_tz_aware:
        asof_settings = {"type": ASOF, "temp_directory": str(repo.root / "duckdb_tmp")}
        stores = {
            "asof": FeatureStore(config=repo.config(asof_settings, coerce_tz_aware=False)),
            "duck": FeatureStore(config=repo.config({"type": "duckdb"}, coerce_tz_aware=False)),
        }
    got = assert_parity(repo, entity, stats_refs(), **stores)
    pd.testing.assert_frame_equal(got[STATS_FEATURES], utc_features)


# --- extra entity columns and join-key maps -------------------------------------------------


def with_extra_columns(entity: pd.DataFrame, kind: str) -> pd.DataFrame:
    frame = entity.copy()
    n = len(frame)
    if kind == "plain":
        frame["weight"] = np.linspace(0, 1, n).astype(np.float32)
        frame["items"] = np.arange(n, dtype=np.int32)
        frame["paid"] = np.arange(n) % 2 == 0
        frame["city"] = np.where(np.arange(n) % 3 == 0, "Lyon", "Oslo")
        frame["coupon"] = pd.array([7 if i % 4 else None for i in range(n)], dtype="Int64")
        frame["channel"] = pd.Categorical(np.where(np.arange(n) % 2 == 0, "app", "web"))
        # Arrow's large string, which Feast's store returns as a plain string.
        frame["note"] = pd.array([f"order {i}" for i in range(n)], dtype="string[pyarrow]")
    elif kind == "utc_datetime":
        frame["placed_at"] = frame["event_timestamp"] - pd.Timedelta(minutes=3)
    else:
        frame["placed_at"] = (frame["event_timestamp"] - pd.Timedelta(minutes=3)).dt.tz_convert(
            "Asia/Tokyo"
        )
    return frame


@pytest.mark.parametrize(
    "kind",
    [
        "plain",
        "utc_datetime",
        "tokyo_datetime",
    ],
)
def test_extra_entity_columns(repo: Repo, entity: pd.DataFrame, kind: str):
    """Entity columns that are neither keys nor the event time pass through as Feast's do."""
    assert_parity(repo, with_extra_columns(entity, kind), stats_refs())


def test_join_key_map_and_alias(repo: Repo, entity: pd.DataFrame):
    frame = entity.assign(rider_id=entity["driver_id"].sample(frac=1.0, random_state=8).to_numpy())
    service = repo.asof.get_feature_service("own_and_rider")
    got = assert_parity(repo, frame, service, full_feature_names=True)
    assert got["own_stats__conv_rate"].notna().any() and got["rider_stats__conv_rate"].notna().any()
    differ = got["own_stats__conv_rate"] != got["rider_stats__conv_rate"]
    assert (differ & got["rider_stats__conv_rate"].notna()).any()


def test_a_feature_file_at_an_fsspec_url_joins_as_the_same_file_on_disk(
    repo: Repo, entity: pd.DataFrame
):
    """Read through fsspec, not DuckDB's httpfs extension (which Feast's duckdb store needs)."""
    memory = fsspec.filesystem("memory")
    memory.put_file(str(repo.root / "stats.parquet"), "/asof_parity/stats.parquet")
    view = FeatureView(
        name="driver_stats_in_memory",
        entities=[repo.objects["driver"]],
        ttl=timedelta(days=1),
        schema=[Field(name="conv_rate", dtype=Float32), Field(name="avg_daily_trips", dtype=Int32)],
        source=parquet_source("memory_source", "memory://asof_parity/stats.parquet"),
    )
    names = ["conv_rate", "avg_daily_trips"]
    try:
        repo.asof.apply([view])
        job, got = historical(repo.asof, entity, stats_refs("driver_stats_in_memory", names))
    finally:
        memory.rm("/asof_parity", recursive=True)

    assert isinstance(job, AsofRetrievalJob)
    pd.testing.assert_frame_equal(got, historical(repo.asof, entity, stats_refs(names=names))[1])


# --- 6. no TTL ------------------------------------------------------------------------------


def test_view_without_ttl(repo: Repo, entity: pd.DataFrame):
    got = assert_parity(repo, entity, stats_refs("driver_stats_forever", ["conv_rate"]))
    # Long after the last stats row, the last row still counts.
    late = got["event_timestamp"] > STATS_END + pd.Timedelta(days=1)
    assert late.any() and got.loc[late, "conv_rate"].notna().all()


# --- 7. property: random small tables -------------------------------------------------------


def random_frame(rows) -> pd.DataFrame:
    """Stats rows (driver, hour, created minutes, value, count) as the random view's table."""
    driver, hour, created, value, count = zip(*rows, strict=True)
    at = RANDOM_START + pd.to_timedelta(np.asarray(hour, dtype=np.int64), unit="h")
    return pd.DataFrame(
        {
            "driver_id": np.asarray(driver, dtype=np.int64),
            "datetime": at,
            "created": at + pd.to_timedelta(pd.array(created, dtype="Int64"), unit="min"),
            "value": pd.array(value, dtype="Float64").astype("float64"),
            "count": pd.array(count, dtype="Int64"),
        }
    )


@st.composite
def random_tables(draw) -> tuple[list, list]:
    """Stats rows and orders on a small grid, with many ties between and within them.

    Stats rows are (driver, hour, created minutes, value, count); orders are (driver,
    hour, minutes). Some orders are anchored to a stats row: exactly at it, just after it, or
    exactly at or just past the end of its TTL.
    """
    versions = st.lists(
        st.tuples(
            st.integers(0, 2),  # created, minutes after the hour (null: see the test below)
            st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
            st.one_of(st.none(), st.integers(-(2**40), 2**40)),
        ),
        min_size=1,
        max_size=3,
        # Versions tied on created but not on values have no single answer.
        unique_by=lambda version: version[0],
    )
    slots = draw(
        st.lists(
            st.tuples(st.integers(1, 2), st.integers(0, 12), versions),  # driver, hour
            min_size=1,
            max_size=12,
            unique_by=lambda slot: slot[:2],
        )
    )
    stats = [(driver, hour, *version) for driver, hour, found in slots for version in found]
    ttl_minutes = int(RANDOM_TTL.total_seconds() // 60)
    free = st.tuples(
        st.integers(0, 3),  # driver: 0 and 3 never have stats
        st.integers(-1, 20),
        st.sampled_from([0, 0, 1, 30]),
    )
    anchored = st.tuples(
        st.sampled_from(stats), st.sampled_from([0, 0, 1, ttl_minutes, ttl_minutes + 1])
    ).map(lambda pick: (pick[0][0], pick[0][1], pick[1]))
    order_list = draw(st.lists(st.one_of(free, anchored), min_size=1, max_size=30))
    return stats, order_list


@settings(max_examples=30, deadline=None, database=None)
@given(tables=random_tables())
def test_matches_duckdb_on_random_tables(repo: Repo, tables):
    stats, order_list = tables
    # The view's path is fixed in the registry, so the file is overwritten for each example.
    tmp = repo.random_path.with_name(".random.parquet.tmp")
    random_frame(stats).to_parquet(tmp, index=False)
    tmp.replace(repo.random_path)
    driver, hour, minute = zip(*order_list, strict=True)
    entity = pd.DataFrame(
        {
            "driver_id": np.asarray(driver, dtype=np.int64),
            "event_timestamp": RANDOM_START
            + pd.to_timedelta(np.asarray(hour, dtype=np.int64), unit="h")
            + pd.to_timedelta(np.asarray(minute, dtype=np.int64), unit="min"),
        }
    )
    assert_parity(repo, entity, ["random_stats:value", "random_stats:count"])


def test_null_created_version_loses(repo: Repo):
    """A version without a created timestamp ranks below one with it, as in Feast's ORDER BY."""
    stats = [(1, 0, None, None, 5), (1, 0, 0, 0.0, 6), (2, 0, 0, 1.0, 7), (2, 0, None, 2.0, 8)]
    tmp = repo.random_path.with_name(".random.parquet.tmp")
    random_frame(stats).to_parquet(tmp, index=False)
    tmp.replace(repo.random_path)
    entity = pd.DataFrame(
        {"driver_id": np.array([1, 2], dtype=np.int64), "event_timestamp": [RANDOM_START] * 2}
    )
    got = assert_parity(repo, entity, ["random_stats:value", "random_stats:count"])
    assert got["count"].tolist() == [6, 7]


# --- 8. memory limit and spill directory ----------------------------------------------------


def test_memory_limit_and_temp_directory(
    repo: Repo, entity: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    spill = tmp_path / "spill" / "nested"
    settings_seen = []
    real_connect = duckdb.connect

    def spy(*args, **kwargs):
        con = real_connect(*args, **kwargs)
        if (kwargs.get("config") or {}).get("temp_directory") == str(spill):
            settings_seen.append(
                con.execute(
                    "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
                ).fetchall()[0]
            )
        return con

    monkeypatch.setattr(asof_module.duckdb, "connect", spy)
    offline = {"type": ASOF, "memory_limit": "1GB", "temp_directory": str(spill)}
    store = FeatureStore(config=repo.config(offline))
    assert_parity(repo, entity, stats_refs(), asof=store)
    assert spill.is_dir()
    one_gb = real_connect(config={"memory_limit": "1GB"}).execute(
        "SELECT current_setting('memory_limit')"
    )
    expected = (one_gb.fetchall()[0][0], str(spill))
    assert settings_seen and all(seen == expected for seen in settings_seen)


def test_without_a_temp_directory_each_query_spills_into_a_fresh_one_it_removes(
    repo: Repo, entity: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Not DuckDB's own default, `.tmp` in whatever directory the process runs in."""
    _, expected = historical(repo.asof, entity, stats_refs())
    folders = []
    real_connect = duckdb.connect

    def spy(*args, **kwargs):
        folder = Path(kwargs["config"]["temp_directory"])
        folders.append((folder, folder.is_dir()))
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(asof_module.duckdb, "connect", spy)
    monkeypatch.chdir(tmp_path)
    store = FeatureStore(config=repo.config({"type": ASOF}))
    _, got = historical(store, entity, stats_refs())

    pd.testing.assert_frame_equal(got, expected)

    assert folders and all(existed for _, existed in folders)
    assert len({folder for folder, _ in folders}) == len(folders)
    assert not any(folder.exists() for folder, _ in folders)
    assert list(tmp_path.iterdir()) == []


def test_each_join_is_reported_to_the_stage_listeners(
    repo: Repo, entity: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
):
    heard = []
    monkeypatch.setattr(asof_module, "stage_listeners", [lambda *stage: heard.append(stage)])

    assert_parity(repo, entity, stats_refs())

    [(name, seconds)] = heard
    assert name == "asof_join" and seconds > 0
