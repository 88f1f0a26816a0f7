"""A driver stats file that lacks a column the feature view reads is refused with an error that
names the file, the column, what it is for, and the columns expected and found, in the join (the
training table, batch scoring) and in the online load, as the orders reader names its file's."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feast.driver_test_data import create_driver_hourly_stats_df

from feast_asof.files import MissingColumnsError
from training_assets.core.features import feast_repo
from training_assets.core.schema import FEATURE_SERVICE
from training_assets_tests.core.features.test_materialize import applied_store

DRIVERS = [5001, 5002, 5003]
LAYOUT = ["datetime", "driver_id", "conv_rate", "acc_rate", "avg_daily_trips", "created"]


def generated(path: Path, drop: str | None = None, keep_feast_names: bool = False) -> Path:
    """Feast's generated stats in the view's layout, without the column `drop`; with
    `keep_feast_names`, as the generator writes them (`event_timestamp`, not `datetime`)."""
    np.random.seed(7)
    stats = create_driver_hourly_stats_df(
        DRIVERS, pd.Timestamp("2021-04-01", tz="UTC"), pd.Timestamp("2021-04-02", tz="UTC")
    )
    if not keep_feast_names:
        stats = stats.rename(columns={"event_timestamp": "datetime"})[LAYOUT]
    stats.drop(columns=[drop] if drop else []).to_parquet(path, index=False)
    return path


def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": np.array(DRIVERS, dtype=np.int64),
            "event_timestamp": pd.Timestamp("2021-04-01 12:00", tz="UTC"),
        }
    )


@pytest.mark.parametrize(
    ("drop", "role"),
    [
        ("created", "created_timestamp_column of the view 'driver_stats'"),
        ("conv_rate", "feature 'conv_rate' of the view 'driver_stats'"),
        ("driver_id", "join key of the view 'driver_stats'"),
        ("datetime", "timestamp_field of the view 'driver_stats'"),
    ],
)
def test_the_join_names_the_file_and_the_missing_column(working_area, tmp_path, drop, role):
    stats = generated(tmp_path / "driver_stats.parquet")
    store = applied_store(tmp_path, stats)
    generated(stats, drop=drop)

    with pytest.raises(MissingColumnsError) as raised:
        feast_repo.historical_table(store, orders(), FEATURE_SERVICE)

    message = str(raised.value)
    assert message.startswith(f"{stats}: missing column(s) {drop!r} ({role}); expected [")
    found = [column for column in LAYOUT if column != drop]
    assert message.endswith(f"found {found}")
    assert "FieldRef" not in message


def test_feasts_generator_output_as_it_is_is_told_its_timestamp_column(working_area, tmp_path):
    stats = generated(tmp_path / "driver_stats.parquet")
    store = applied_store(tmp_path, stats)
    generated(stats, keep_feast_names=True)

    with pytest.raises(MissingColumnsError, match=re.escape("'datetime' (timestamp_field")) as e:
        feast_repo.historical_table(store, orders(), FEATURE_SERVICE)

    assert "'event_timestamp'" in str(e.value)


@pytest.mark.parametrize("drop", ["datetime", "created", "avg_daily_trips", "driver_id"])
def test_the_online_load_names_the_file_and_the_missing_column(working_area, tmp_path, drop):
    stats = generated(tmp_path / "driver_stats.parquet")
    store = applied_store(tmp_path, stats)
    generated(stats, drop=drop)

    with pytest.raises(MissingColumnsError, match=rf"^{re.escape(str(stats))}: .*{drop!r}"):
        feast_repo.materialize_online(store, FEATURE_SERVICE)
