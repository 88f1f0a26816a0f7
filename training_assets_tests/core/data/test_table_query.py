"""Unit tests for training_assets.core.data.table_query: the gates and drift on a parquet file
give the verdicts they give on the same table in memory.

The table is built from Feast's own generators (orders and hourly driver stats), joined by
pandas' merge_asof: values and layouts the project's generator did not choose.
"""

from datetime import UTC, datetime, timedelta

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast.driver_test_data import create_driver_hourly_stats_df, create_orders_df

from training_assets.core.data import storage
from training_assets.core.data.table_query import TableFile, TableQuery, column_mean
from training_assets.core.gates import data_gates
from training_assets.core.gates.catalog import evaluate_data_gates
from training_assets.core.gates.limits import GateLimits
from training_assets.core.ml.drift import feature_profile, population_stability
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURE_CREATED,
    FEATURE_TIMESTAMP,
    LABEL,
)
from training_assets_tests.repo_schema import repo_schema

SCHEMA = repo_schema()
FEATURES = list(SCHEMA.feature_names)
DRIVERS = [1001, 1002, 1003, 1004, 1005]
START = datetime(2025, 3, 1, tzinfo=UTC)
END = START + timedelta(days=4)


def feast_training_table(orders: int = 400) -> pd.DataFrame:
    """Feast-generated orders joined point-in-time with Feast-generated hourly stats."""
    stats = create_driver_hourly_stats_df(DRIVERS, START, END).rename(
        columns={"event_timestamp": FEATURE_TIMESTAMP, "created": FEATURE_CREATED}
    )
    order_frame = create_orders_df(
        customers=[1, 2, 3], drivers=DRIVERS, start_date=START, end_date=END, order_count=orders
    ).rename(columns={"order_is_success": LABEL})
    # Feast's generator gives the orders' times as Python datetimes.
    order_frame[EVENT_TIMESTAMP] = pd.to_datetime(order_frame[EVENT_TIMESTAMP], utc=True)
    for column in (FEATURE_TIMESTAMP, FEATURE_CREATED):
        stats[column] = pd.to_datetime(stats[column], utc=True).astype("datetime64[ns, UTC]")
    order_frame[EVENT_TIMESTAMP] = order_frame[EVENT_TIMESTAMP].astype("datetime64[ns, UTC]")
    joined = pd.merge_asof(
        order_frame.sort_values(EVENT_TIMESTAMP),
        stats.sort_values(FEATURE_TIMESTAMP),
        left_on=EVENT_TIMESTAMP,
        right_on=FEATURE_TIMESTAMP,
        by=ENTITY_KEY,
    )
    columns = [ENTITY_KEY, EVENT_TIMESTAMP, LABEL, *FEATURES, FEATURE_TIMESTAMP, FEATURE_CREATED]
    table = joined[columns].reset_index(drop=True)
    return table.astype(
        {
            **{name: dtype for name, dtype in SCHEMA.dtypes.items() if name in FEATURES},
            LABEL: "int64",
            **{c: "datetime64[ns, UTC]" for c in (EVENT_TIMESTAMP, FEATURE_TIMESTAMP)},
            FEATURE_CREATED: "datetime64[ns, UTC]",
        }
    )


def broken(table: pd.DataFrame) -> pd.DataFrame:
    """The table with one fault of each kind the gates look for."""
    bad = table.copy()
    bad.loc[3, "conv_rate"] = np.float32(1.5)
    bad.loc[4, "acc_rate"] = np.float32(-0.25)
    bad.loc[5:40, "avg_daily_trips"] = np.nan  # how pandas holds an int column with gaps
    bad.loc[7, FEATURE_TIMESTAMP] = bad.loc[7, EVENT_TIMESTAMP] + pd.Timedelta(hours=1)
    bad.loc[8, FEATURE_CREATED] = bad.loc[8, EVENT_TIMESTAMP] + pd.Timedelta(hours=2)
    bad[LABEL] = bad[LABEL].astype("float64")
    bad.loc[9, LABEL] = 2.0
    bad.loc[10, LABEL] = np.nan
    return pd.concat([bad, bad.iloc[:6]], ignore_index=True).assign(driver_name="x")


def write(frame: pd.DataFrame, path) -> TableFile:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return TableFile(str(path))


def limits() -> GateLimits:
    return GateLimits(min_rows=100, max_feature_null_rate=0.05, max_duplicate_rate=0.001)


@pytest.mark.parametrize("make", [lambda t: t, broken], ids=["healthy", "broken"])
def test_every_data_gate_gives_the_same_outcome_on_the_file_as_in_memory(tmp_path, make):
    frame = make(feast_training_table())
    file = write(frame, tmp_path / "training_data.parquet")

    # The feature files are judged on their own files either way.
    in_memory = evaluate_data_gates(frame, SCHEMA, limits(), len(frame), [])
    with TableQuery(file) as query:
        on_file = evaluate_data_gates(query, SCHEMA, limits(), len(frame), [])

    for name, outcome in in_memory.items():
        found = on_file[name]
        assert found.passed == outcome.passed, name
        if name != "expected_columns_with_dtypes":
            assert found.evidence == outcome.evidence, name
    if make is broken:
        failed = sorted(name for name, outcome in on_file.items() if not outcome.passed)
        assert failed == [
            "duplicate_rows_within_rate",
            "feature_nulls_within_rate",
            "feature_values_in_range",
            "features_created_before_order",
            "features_not_from_the_future",
            "labels_are_binary",
            "no_unexpected_columns",
        ]


def test_a_file_keeps_an_integer_feature_with_gaps_as_an_integer(tmp_path):
    frame = feast_training_table()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    trips = table.column("avg_daily_trips").to_pylist()
    trips[2] = None
    table = table.set_column(
        table.schema.get_field_index("avg_daily_trips"),
        "avg_daily_trips",
        pa.array(trips, type=pa.int32()),
    )
    pq.write_table(table, tmp_path / "t.parquet")

    with TableQuery(TableFile(str(tmp_path / "t.parquet"))) as query:
        outcome = data_gates.expected_columns_with_dtypes(query, SCHEMA)
        nulls = data_gates.feature_nulls_within_rate(query, SCHEMA, 0.5)

    assert outcome.passed
    assert outcome.evidence["found_dtypes"]["avg_daily_trips"] == "int32"
    assert nulls.evidence["null_rates"]["avg_daily_trips"] == pytest.approx(1 / len(frame))


def test_nan_in_a_file_counts_as_missing_as_pandas_counts_it(tmp_path):
    # Arrow keeps NaN apart from null, pandas' isna does not; the gates follow pandas.
    table = pa.table(
        {
            LABEL: pa.array([0.0, 1.0, float("nan"), None], type=pa.float64()),
            "conv_rate": pa.array([0.5, float("nan"), None, 0.25], type=pa.float32()),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")

    with TableQuery(TableFile(str(tmp_path / "t.parquet"))) as query:
        labels = data_gates.labels_are_binary(query)
        nulls = data_gates.feature_nulls_within_rate(query, SCHEMA, 1.0)

    assert labels.evidence["null_labels"] == 2
    assert labels.evidence["non_binary_labels"] == 0
    assert nulls.evidence["null_rates"]["conv_rate"] == 0.5


def test_a_files_statistics_give_the_extremes_pandas_finds_leaving_nan_out(tmp_path):
    frame = feast_training_table()
    frame.loc[[0, 50, 300], "conv_rate"] = [np.nan, np.float32(0.0), np.nan]
    path = tmp_path / "t.parquet"
    # Row groups of 64 rows: the extremes come from several groups' statistics.
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=64)

    with TableQuery(TableFile(str(path))) as query:
        for feature in FEATURES:
            assert query.extremes(feature) == (frame[feature].min(), frame[feature].max())
        # A zero minimum reads as 0.0, not as the -0.0 that the statistics hold.
        assert str(query.extremes("conv_rate")[0]) == "0.0"
        assert query.extremes(EVENT_TIMESTAMP) is None  # not a number
    with TableQuery(frame) as query:
        assert query.extremes("conv_rate") is None  # a frame has no statistics


def test_a_row_group_of_only_nan_leaves_the_extremes_to_a_query(tmp_path):
    frame = broken(feast_training_table())
    frame.loc[:63, "conv_rate"] = np.nan
    file = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), file, row_group_size=64)

    with TableQuery(TableFile(str(file))) as query:
        assert query.extremes("conv_rate") is None
        on_file = data_gates.feature_values_in_range(query, SCHEMA)
    in_memory = data_gates.feature_values_in_range(frame, SCHEMA)

    assert on_file.evidence == in_memory.evidence
    assert not on_file.passed and "acc_rate" in on_file.evidence["out_of_range"]


def test_a_file_in_an_fsspec_store_is_queried_in_place():
    frame = broken(feast_training_table())
    url = "memory://bucket/runs/r1/training_data.parquet"
    with fsspec.open(url, "wb") as handle:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), handle)

    try:
        with TableQuery(TableFile(url)) as query:
            assert query.num_rows == len(frame)
            outcome = data_gates.feature_values_in_range(query, SCHEMA)
    finally:
        fsspec.filesystem("memory").rm("/bucket", recursive=True)

    assert sorted(outcome.evidence["out_of_range"]) == ["acc_rate", "conv_rate"]


def test_psi_on_a_file_equals_psi_in_memory_and_by_hand(tmp_path):
    reference = feast_training_table(2_000)
    profile = feature_profile(reference, FEATURES)
    later = broken(feast_training_table(500))
    file = write(later, tmp_path / "later.parquet")

    with TableQuery(file) as query:
        on_file = population_stability(profile, query)
    in_memory = population_stability(profile, later)

    assert on_file == pytest.approx(in_memory)
    for feature in FEATURES:
        values = later[feature].dropna().to_numpy(dtype=float)
        edges = np.asarray(profile[feature]["edges"])
        bins = np.searchsorted(edges[1:-1], values, side="right")
        actual = np.bincount(bins, minlength=len(edges) - 1) / len(values) + 1e-4
        expected = np.asarray(profile[feature]["shares"]) + 1e-4
        by_hand = float(np.sum((actual - expected) * np.log(actual / expected)))
        assert on_file[feature] == pytest.approx(by_hand), feature


def test_queries_run_under_a_memory_limit_when_the_settings_give_none(tmp_path):
    pq.write_table(pa.table({"x": [1, 2]}), tmp_path / "t.parquet")

    with TableQuery(TableFile(str(tmp_path / "t.parquet"))) as query:
        default = query.one("SELECT current_setting('memory_limit')")[0]
    with TableQuery(TableFile(str(tmp_path / "t.parquet")), memory_limit="1GB") as query:
        given = query.one("SELECT current_setting('memory_limit')")[0]

    # DuckDB reports the limit in its own units (2GB as 1.8 GiB).
    assert default == "1.8 GiB"
    assert given == "953.6 MiB"


def test_the_mean_of_a_stored_series_leaves_missing_values_out_as_pandas_does(tmp_path):
    labels = pd.Series([1.0, np.nan, 0.0, 1.0, None], name=LABEL)
    storage.write_parquet(tmp_path / "train_y.parquet", labels)

    assert column_mean(TableFile(str(tmp_path / "train_y.parquet"))) == pytest.approx(labels.mean())
    assert labels.mean() == pytest.approx(2 / 3)
