"""Parity of the project's offline store with Feast's Spark offline store.

The same entity rows are joined, through `get_historical_features` and the project's
FeatureService, once by the project's Feast repo (the ASOF DuckDB store over a parquet
FileSource) and once by Feast's `spark` offline store in Spark local mode over a SparkSource
on the same file. Both must give the same training set: the same rows, the same entity
columns and the same feature values, with nulls in the same places.

docs/production.md says when to move the offline store to Spark; this test guards that the move
changes no training set. The data is Feast's own generator's, not ours, so that both stores
read a file neither was written for. It covers what the two joins could decide differently:
rows of one driver and hour written twice with different `created` times, entity rows before
any stats and after the TTL, entity rows exactly on a stats hour or the TTL's edge, entity rows
that share driver and time, an unknown driver, rows without a created time (which lose to a
version with one, and are never joined when filtering), and the join with
`filter_by_created_timestamp`.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore, RepoConfig
from feast.driver_test_data import create_driver_hourly_stats_df, create_orders_df
from feast.infra.offline_stores.contrib.spark_offline_store.spark import SparkOfflineStoreConfig
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from pyspark import SparkContext
from pyspark.sql import SparkSession

from training_assets.core import paths
from training_assets.core.features import feast_repo
from training_assets.core.schema import FEATURE_SERVICE

FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]
DRIVERS = list(range(5001, 5011))
UNKNOWN_DRIVER = 9999
START = pd.Timestamp("2021-04-01", tz="UTC")
END = START + pd.Timedelta(days=3)
TTL = pd.Timedelta(days=1)
# Values of rewritten rows lie outside the generator's range (0-999 trips), so a result shows
# whether a rewrite was joined.
REWRITE_TRIPS = 1000
SEED = 11

SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.app.name": "spark-parity-test",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Spark hands times to pandas naive, in the session's zone; UTC keeps the comparison
    # independent of the machine's zone.
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    # Spark's default 200 shuffle partitions cost seconds on a few hundred rows.
    "spark.sql.shuffle.partitions": "2",
    # The entity frame goes to Spark as Python rows; its workers must be this interpreter,
    # which has pyspark, whatever `python3` is on the PATH.
    "spark.pyspark.python": sys.executable,
}


@pytest.fixture(scope="module")
def spark():
    """One local Spark session for the module; Feast's store picks up the active session."""
    session = SparkSession.builder.config(map=SPARK_CONF).getOrCreate()
    gateway = SparkContext._gateway
    yield session
    session.stop()
    # stop() ends the SparkContext but not the JVM, which lives until this process exits. The
    # JVM exits when its stdin closes; the gateway is forgotten so a later session starts anew.
    gateway.shutdown()
    if gateway.proc is not None:
        gateway.proc.stdin.close()
        gateway.proc.wait(timeout=60)
    SparkContext._gateway = None
    SparkContext._jvm = None


def feast_stats(path: Path, null_created: bool = False, lone_nulls: bool = False) -> pd.DataFrame:
    """Feast's hourly driver stats, with some driver-hours written again, to parquet.

    With `null_created`, the first version of some rewritten hours has no created time; with
    `lone_nulls` too, so has the only version of some other hours. One version per hour at
    most: two would tie with no single answer.
    """
    rng = np.random.default_rng(SEED)
    np.random.seed(SEED)
    stats = create_driver_hourly_stats_df(DRIVERS, START, END).rename(
        columns={"event_timestamp": "datetime"}
    )[["datetime", "driver_id", *FEATURES, "created"]]
    # The generator stamps every row with the time it ran, so `created` would order nothing;
    # a row written 0-90 minutes after its hour also makes the created filter cut through the
    # data.
    stats["created"] = stats["datetime"] + pd.to_timedelta(
        rng.integers(0, 90 * 60, len(stats)), unit="s"
    )
    # Rewrites of a driver-hour with other values: created up to two hours later (the row to
    # use) or earlier (a stale version that must lose).
    picked = stats.iloc[rng.choice(len(stats), 60, replace=False)]
    rewrites = picked.assign(
        conv_rate=rng.random(len(picked)).astype(np.float32),
        acc_rate=rng.random(len(picked)).astype(np.float32),
        avg_daily_trips=rng.integers(REWRITE_TRIPS, 2 * REWRITE_TRIPS, len(picked)),
        created=picked["created"]
        + pd.to_timedelta(
            rng.choice([-1, 1], len(picked)) * rng.integers(1, 120, len(picked)), unit="min"
        ),
    )
    stats = pd.concat([stats, rewrites], ignore_index=True)
    if null_created:
        # The rewrite, which has a created time, must win.
        unstamped = list(picked.index[:20])
        if lone_nulls:
            # Hours written once: never joined with the created filter.
            unstamped += list(rng.choice(len(stats) - len(rewrites), 40, replace=False))
        stats.loc[np.unique(unstamped), "created"] = pd.NaT
    # Rows equal in driver, hour and created are copies of one version; Spark's join returns
    # an entity row once per copy, so the sample has none (the generator itself makes one).
    assert not stats.duplicated(["driver_id", "datetime", "created"]).any()
    # Spark refuses parquet's nanosecond times, pandas' default.
    stats.to_parquet(path, index=False, coerce_timestamps="us")
    return stats


def feast_orders(stats: pd.DataFrame) -> pd.DataFrame:
    """Feast's orders from before the first stats to past the TTL after the last, plus rows on
    the join's edges and rows that repeat an order's driver and time."""
    np.random.seed(SEED)
    orders = create_orders_df(
        customers=list(range(1001, 1021)),
        drivers=[*DRIVERS, UNKNOWN_DRIVER],
        start_date=START - pd.Timedelta(hours=6),
        end_date=END + TTL + pd.Timedelta(hours=6),
        order_count=500,
    )
    # The generator mixes naive, UTC and other zones in one object column.
    orders["event_timestamp"] = pd.to_datetime(orders["event_timestamp"], utc=True)
    rng = np.random.default_rng(SEED)
    on_hour = stats.iloc[rng.choice(len(stats), 20, replace=False)]
    stamped = stats.dropna(subset=["created"])
    on_created = stamped.iloc[rng.choice(len(stamped), 20, replace=False)]
    last = stats[stats["datetime"] < END].groupby("driver_id")["datetime"].max()
    edges = pd.concat(
        [
            pd.DataFrame(
                {"driver_id": on_hour["driver_id"], "event_timestamp": on_hour["datetime"]}
            ),
            pd.DataFrame(
                {"driver_id": on_created["driver_id"], "event_timestamp": on_created["created"]}
            ),
            pd.DataFrame({"driver_id": last.index, "event_timestamp": last.values + TTL}),
            pd.DataFrame(
                {
                    "driver_id": last.index,
                    "event_timestamp": last.values + TTL + pd.Timedelta(milliseconds=1),
                }
            ),
            orders.sample(20, random_state=SEED)[["driver_id", "event_timestamp"]],
        ],
        ignore_index=True,
    )
    edges["customer_id"] = rng.choice(orders["customer_id"], len(edges))
    edges["order_is_success"] = rng.integers(0, 2, len(edges)).astype(np.int32)
    edges["order_id"] = np.arange(len(edges)) + orders["order_id"].max() + 1
    entity = pd.concat([orders, edges[orders.columns]], ignore_index=True)
    entity["driver_id"] = entity["driver_id"].astype(np.int64)
    entity["event_timestamp"] = pd.to_datetime(entity["event_timestamp"], utc=True)
    return entity


def asof_store(tmp_path: Path, stats: Path) -> FeatureStore:
    store = feast_repo.feature_store(
        paths.feature_repo(),
        registry=tmp_path / "asof" / "registry.db",
        online_store=tmp_path / "asof" / "online.db",
    )
    feast_repo.apply_repo(store, paths.feature_repo(), stats)
    return store


def spark_store(tmp_path: Path, stats: Path, project: str) -> FeatureStore:
    """The project's own feature definitions, each file source swapped for a SparkSource on
    `stats`, so a change to the repo (a TTL, a feature) is compared too."""
    root = tmp_path / "spark"
    root.mkdir()
    store = FeatureStore(
        config=RepoConfig(
            project=project,
            provider="local",
            registry=str(root / "registry.db"),
            online_store={"type": "sqlite", "path": str(root / "online.db")},
            offline_store=SparkOfflineStoreConfig(spark_conf=SPARK_CONF),
            entity_key_serialization_version=3,
            repo_path=root,
        )
    )
    contents = feast_repo.load_repo(paths.feature_repo())
    for view in contents.feature_views:
        source = view.batch_source
        if hasattr(source, "file_options"):
            view.batch_source = SparkSource(
                name=source.name,
                path=str(stats),
                file_format="parquet",
                timestamp_field=source.timestamp_field,
                created_timestamp_column=source.created_timestamp_column,
                field_mapping=source.field_mapping,
            )
    store.apply([*contents.entities, *contents.feature_views, *contents.feature_services])
    return store


def training_set(
    store: FeatureStore, entity: pd.DataFrame, filter_by_created_timestamp: bool
) -> pd.DataFrame:
    frame = store.get_historical_features(
        # Feast's Spark store writes UTC times back into the frame it is given.
        entity_df=entity.copy(),
        features=store.get_feature_service(FEATURE_SERVICE),
        filter_by_created_timestamp=filter_by_created_timestamp,
    ).to_df()
    # Spark returns naive times in its session zone, UTC; the ASOF store returns them zoned.
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    # Spark's row order is arbitrary; order_id breaks ties between rows sharing driver and time.
    return frame.sort_values(["driver_id", "event_timestamp", "order_id"]).reset_index(drop=True)


@pytest.mark.slow
# Feast labels its Spark store and source experimental on every use.
@pytest.mark.filterwarnings("ignore:The spark .* experimental:RuntimeWarning")
@pytest.mark.parametrize("filter_by_created_timestamp", [False, True])
@pytest.mark.parametrize("null_created", [False, True], ids=["created", "some_null_created"])
def test_spark_offline_store_gives_the_same_training_set(
    working_area, tmp_path, spark, filter_by_created_timestamp, null_created
):
    stats_path = tmp_path / "driver_stats.parquet"
    # Unfiltered, an hour whose only version has no created time is where the stores part
    # (see docs/production.md, Spark), so such hours are compared with the filter only.
    stats = feast_stats(stats_path, null_created, lone_nulls=filter_by_created_timestamp)
    if null_created:
        assert not stats[stats["created"].isna()].duplicated(["driver_id", "datetime"]).any()
    entity = feast_orders(stats)
    ours = asof_store(tmp_path, stats_path)
    theirs = spark_store(tmp_path, stats_path, ours.project)

    expected = training_set(ours, entity, filter_by_created_timestamp)
    joined = training_set(theirs, entity, filter_by_created_timestamp)

    assert len(expected) == len(entity)
    assert sorted(joined.columns) == sorted(expected.columns)
    joined = joined[expected.columns]
    keys = [column for column in expected.columns if column not in FEATURES]
    pd.testing.assert_frame_equal(joined[keys], expected[keys], check_dtype=False)
    for feature in FEATURES:
        one_side = joined[feature].isna() != expected[feature].isna()
        assert not one_side.any(), f"{feature} null in one store only:\n{expected[one_side]}"
    pd.testing.assert_frame_equal(
        joined[FEATURES].astype("float64"),
        expected[FEATURES].astype("float64"),
        rtol=1e-6,
    )
    # The sample must reach the cases it is built for, or parity would hold trivially.
    trips = expected["avg_daily_trips"]
    assert trips.isna().any() and trips.notna().any()
    assert (trips >= REWRITE_TRIPS).any()
    before_stats = expected["event_timestamp"] < START
    assert before_stats.any() and trips[before_stats].isna().all()
