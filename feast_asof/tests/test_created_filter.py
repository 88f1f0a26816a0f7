"""The ASOF store with `filter_by_created_timestamp` and with provenance columns: parity with
Feast's duckdb store on late corrections and random tables, and the matched rows' own times."""

import numpy as np
import pandas as pd
from feast import FeatureStore
from hypothesis import given, settings
from hypothesis import strategies as st

from feast_asof import PROVENANCE_PREFIX
from feast_asof.tests.test_store import (
    ASOF,
    RANDOM_START,
    RANDOM_TTL,
    Repo,
    assert_parity,
    random_frame,
)

RANDOM_FEATURES = ["random_stats:value", "random_stats:count"]


def write_random(repo: Repo, stats: list) -> None:
    # The view's path is fixed in the registry, so the file is overwritten for each example.
    tmp = repo.random_path.with_name(".random.parquet.tmp")
    random_frame(stats).to_parquet(tmp, index=False)
    tmp.replace(repo.random_path)


def orders_at(driver: list[int], minutes: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": np.asarray(driver, dtype=np.int64),
            "event_timestamp": RANDOM_START
            + pd.to_timedelta(np.asarray(minutes, dtype=np.int64), unit="min"),
        }
    )


def test_a_late_correction_is_not_seen_before_it_was_made(repo: Repo):
    # Hour 0 of driver 1: first written at 0:05 (value 1.0), corrected at 3:00 (value 2.0).
    write_random(repo, [(1, 0, 5, 1.0, 1), (1, 0, 180, 2.0, 2)])
    entity = orders_at([1, 1], [60, 240])

    unfiltered = assert_parity(repo, entity, RANDOM_FEATURES)
    filtered = assert_parity(repo, entity, RANDOM_FEATURES, filter_by_created_timestamp=True)

    assert unfiltered["value"].tolist() == [2.0, 2.0]
    assert filtered["value"].tolist() == [1.0, 2.0]


def test_a_row_created_after_every_order_is_never_seen(repo: Repo):
    write_random(repo, [(1, 0, 600, 1.0, 1)])
    entity = orders_at([1, 1], [30, 120])

    filtered = assert_parity(repo, entity, RANDOM_FEATURES, filter_by_created_timestamp=True)

    assert filtered["value"].isna().all()


@st.composite
def late_tables(draw) -> tuple[list, list]:
    """Stats rows whose created time ranges over hours after their timestamp, and orders."""
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(1, 2),  # driver
                st.integers(0, 8),  # hour
                st.integers(0, 300),  # created, minutes after the hour
                st.floats(-1e3, 1e3, allow_nan=False),
                st.integers(-100, 100),
            ),
            min_size=1,
            max_size=15,
            # Versions tied on timestamp and created have no single answer.
            unique_by=lambda row: row[:3],
        )
    )
    orders = draw(
        st.lists(st.tuples(st.integers(0, 3), st.integers(-60, 14 * 60)), min_size=1, max_size=25)
    )
    return rows, orders


@settings(max_examples=40, deadline=None, database=None)
@given(tables=late_tables())
def test_filter_by_created_timestamp_matches_duckdb_on_random_tables(repo: Repo, tables):
    rows, orders = tables
    write_random(repo, rows)
    driver, minutes = zip(*orders, strict=True)
    assert_parity(
        repo,
        orders_at(list(driver), list(minutes)),
        RANDOM_FEATURES,
        filter_by_created_timestamp=True,
    )


def test_provenance_columns_name_the_matched_rows_times(repo: Repo):
    write_random(repo, [(1, 0, 5, 1.0, 1), (1, 2, 30, 3.0, 3)])
    store = FeatureStore(
        config=repo.config(
            {
                "type": ASOF,
                "temp_directory": str(repo.root / "duckdb_tmp"),
                "provenance_columns": True,
            }
        )
    )
    # 1:00 sees the hour-0 row; 2:10 the hour-2 row, created 2:30; 9:00 is past the TTL.
    entity = orders_at([1, 1, 1, 2], [60, 130, 9 * 60, 60])
    assert RANDOM_TTL < pd.Timedelta(hours=7)

    got = store.get_historical_features(entity_df=entity, features=RANDOM_FEATURES).to_df()

    stamp = got[f"{PROVENANCE_PREFIX}random_stats__timestamp"]
    created = got[f"{PROVENANCE_PREFIX}random_stats__created"]
    hour = pd.Timedelta(hours=1)
    assert stamp.tolist()[:2] == [RANDOM_START, RANDOM_START + 2 * hour]
    assert created.tolist()[:2] == [
        RANDOM_START + pd.Timedelta(minutes=5),
        RANDOM_START + 2 * hour + pd.Timedelta(minutes=30),
    ]
    assert stamp.iloc[2:].isna().all() and created.iloc[2:].isna().all()
    # The provenance is extra: the features are those of the store without it.
    plain = repo.asof.get_historical_features(entity_df=entity, features=RANDOM_FEATURES).to_df()
    pd.testing.assert_frame_equal(got[plain.columns], plain)


def test_a_row_without_created_is_never_seen_when_filtering(repo: Repo):
    # Feast's stores keep a row only if `created <= order time`, which a null never is: a row
    # with no created time cannot be shown to have existed before any order.
    write_random(repo, [(1, 0, None, 1.0, 1), (1, 1, 5, 2.0, 2), (2, 0, None, 3.0, 3)])
    entity = orders_at([1, 1, 2], [30, 90, 600])

    unfiltered = assert_parity(repo, entity, RANDOM_FEATURES)
    filtered = assert_parity(repo, entity, RANDOM_FEATURES, filter_by_created_timestamp=True)

    assert unfiltered["value"].tolist()[:2] == [1.0, 2.0]
    assert filtered["value"].isna().tolist() == [True, False, True]
    assert filtered["value"].iloc[1] == 2.0
