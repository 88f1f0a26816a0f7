"""Unit tests for the data gates in training_assets.core.gates.data_gates."""

import numpy as np
import pandas as pd
import pytest
from feast.driver_test_data import create_driver_hourly_stats_df

from training_assets.core.gates.data_gates import (
    duplicate_rows_within_rate,
    expected_columns_with_dtypes,
    feature_keys_not_null,
    feature_nulls_within_rate,
    feature_times_not_null,
    feature_values_in_range,
    features_created_before_order,
    features_not_from_the_future,
    labels_are_binary,
    no_unexpected_columns,
    row_count_at_least,
    row_count_matches_orders,
)
from training_assets.core.gates.outcome import GateOutcome
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURE_CREATED,
    FEATURE_TIMESTAMP,
    LABEL,
    FeatureSource,
)
from training_assets_tests.repo_schema import repo_schema

SCHEMA = repo_schema()
TRAINING_DTYPES = SCHEMA.dtypes


def good_frame(n: int = 10) -> pd.DataFrame:
    """A training table that fits the schema exactly."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            ENTITY_KEY: np.arange(1001, 1001 + n, dtype=np.int64),
            EVENT_TIMESTAMP: pd.date_range("2025-12-01", periods=n, freq="h", tz="UTC"),
            LABEL: np.array([0, 1] * (n // 2) + [1] * (n % 2), dtype=np.int64),
            "conv_rate": rng.uniform(0, 1, n).astype(np.float32),
            "acc_rate": rng.uniform(0, 1, n).astype(np.float32),
            "avg_daily_trips": rng.integers(0, 40, n).astype(np.int32),
            FEATURE_TIMESTAMP: pd.date_range("2025-11-30 23:00", periods=n, freq="h", tz="UTC"),
            FEATURE_CREATED: pd.date_range("2025-11-30 23:05", periods=n, freq="h", tz="UTC"),
        }
    ).astype(
        {
            FEATURE_TIMESTAMP: "datetime64[ns, UTC]",
            FEATURE_CREATED: "datetime64[ns, UTC]",
            EVENT_TIMESTAMP: "datetime64[ns, UTC]",
        }
    )


def table(n: int = 20) -> pd.DataFrame:
    """A training table with random labels and features joined 20 minutes before each order."""
    rng = np.random.default_rng(1)
    events = pd.date_range("2025-12-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            ENTITY_KEY: np.arange(n, dtype=np.int64) % 4 + 1001,
            EVENT_TIMESTAMP: events,
            LABEL: rng.integers(0, 2, n),
            "conv_rate": rng.uniform(0, 1, n).astype(np.float32),
            "acc_rate": rng.uniform(0, 1, n).astype(np.float32),
            "avg_daily_trips": rng.integers(0, 40, n).astype(float),
            FEATURE_TIMESTAMP: events - pd.Timedelta(minutes=20),
            FEATURE_CREATED: events - pd.Timedelta(minutes=15),
        }
    )


def test_good_frame_matches_the_schema():
    frame = good_frame()
    assert {c: str(t) for c, t in frame.dtypes.items()} == TRAINING_DTYPES


# --- no_unexpected_columns -----------------------------------------------------------------


def test_no_unexpected_columns_passes_on_schema_columns():
    outcome = no_unexpected_columns(good_frame(), SCHEMA)

    assert outcome == GateOutcome(
        passed=True,
        evidence={"expected_columns": list(TRAINING_DTYPES), "unexpected_columns": []},
        description="",
    )


def test_no_unexpected_columns_fails_on_extra_column():
    outcome = no_unexpected_columns(good_frame().assign(driver_name="x"), SCHEMA)

    assert not outcome.passed
    assert outcome.evidence["expected_columns"] == list(TRAINING_DTYPES)
    assert outcome.evidence["unexpected_columns"] == ["driver_name"]
    assert "driver_name" in outcome.description


def test_no_unexpected_columns_reports_renamed_feature():
    outcome = no_unexpected_columns(
        good_frame().rename(columns={"conv_rate": "conversion_rate"}), SCHEMA
    )

    assert not outcome.passed
    assert outcome.evidence["unexpected_columns"] == ["conversion_rate"]


# --- expected_columns_with_dtypes ----------------------------------------------------------


def test_expected_columns_with_dtypes_passes_on_good_frame():
    outcome = expected_columns_with_dtypes(good_frame(), SCHEMA)

    assert outcome.passed
    assert outcome.evidence["missing_columns"] == []
    assert outcome.evidence["mistyped_columns"] == {}
    assert outcome.evidence["expected_dtypes"] == TRAINING_DTYPES
    assert outcome.evidence["found_dtypes"] == TRAINING_DTYPES
    assert outcome.description == ""


def test_expected_columns_with_dtypes_ignores_extra_columns():
    # Extra columns are the job of no_unexpected_columns.
    assert expected_columns_with_dtypes(good_frame().assign(extra=1), SCHEMA).passed


def test_expected_columns_with_dtypes_fails_on_renamed_feature():
    outcome = expected_columns_with_dtypes(
        good_frame().rename(columns={"conv_rate": "conversion_rate"}), SCHEMA
    )

    assert not outcome.passed
    assert outcome.evidence["missing_columns"] == ["conv_rate"]
    assert outcome.evidence["mistyped_columns"] == {}
    assert outcome.evidence["found_dtypes"]["conversion_rate"] == "float32"
    assert "conv_rate" not in outcome.evidence["found_dtypes"]
    assert "missing columns: ['conv_rate']" in outcome.description


@pytest.mark.parametrize(
    ("column", "bad_dtype", "found"),
    [
        ("conv_rate", "float64", "float64"),
        ("conv_rate", "object", "object"),
        ("avg_daily_trips", "float64", "float64"),
        ("avg_daily_trips", "int64", "int64"),
        (LABEL, "float64", "float64"),
    ],
)
def test_expected_columns_with_dtypes_fails_on_wrong_dtype(column, bad_dtype, found):
    frame = good_frame()
    frame[column] = frame[column].astype(bad_dtype)

    outcome = expected_columns_with_dtypes(frame, SCHEMA)

    assert not outcome.passed
    assert outcome.evidence["missing_columns"] == []
    assert outcome.evidence["mistyped_columns"] == {
        column: {"expected": TRAINING_DTYPES[column], "found": found}
    }
    assert outcome.evidence["found_dtypes"][column] == found
    assert "wrong dtypes" in outcome.description and column in outcome.description


def test_expected_columns_with_dtypes_fails_on_microsecond_timestamps():
    frame = good_frame()
    frame[EVENT_TIMESTAMP] = frame[EVENT_TIMESTAMP].astype("datetime64[us, UTC]")

    outcome = expected_columns_with_dtypes(frame, SCHEMA)

    assert not outcome.passed
    assert outcome.evidence["mistyped_columns"] == {
        EVENT_TIMESTAMP: {"expected": "datetime64[ns, UTC]", "found": "datetime64[us, UTC]"}
    }


# --- labels_are_binary ---------------------------------------------------------------------


def test_labels_are_binary_passes_on_zero_one_labels():
    outcome = labels_are_binary(good_frame(10))

    assert outcome.passed
    assert outcome.evidence == {
        "expected_values": [0, 1],
        "null_labels": 0,
        "non_binary_labels": 0,
        "non_binary_examples": [],
        "positive_rate": 0.5,
    }
    assert outcome.description == ""


def test_labels_are_binary_fails_on_a_two():
    frame = good_frame(10)
    frame.loc[3, LABEL] = 2

    outcome = labels_are_binary(frame)

    assert not outcome.passed
    assert outcome.evidence["expected_values"] == [0, 1]
    assert outcome.evidence["non_binary_labels"] == 1
    assert outcome.evidence["non_binary_examples"] == ["2"]
    assert outcome.evidence["null_labels"] == 0
    assert outcome.description == "0 null and 1 non-binary labels"


def test_labels_are_binary_fails_on_null():
    frame = good_frame(10)
    frame[LABEL] = frame[LABEL].astype("float64")
    frame.loc[[0, 4], LABEL] = np.nan

    outcome = labels_are_binary(frame)

    assert not outcome.passed
    assert outcome.evidence["null_labels"] == 2
    assert outcome.evidence["non_binary_labels"] == 0
    # rows 0 and 4 held zeros; the odd rows 1, 3, 5, 7, 9 are the 5 positives of 8 present
    assert outcome.evidence["positive_rate"] == pytest.approx(5 / 8)
    assert outcome.description == "2 null and 0 non-binary labels"


def test_labels_are_binary_fails_without_label_column():
    outcome = labels_are_binary(good_frame().drop(columns=LABEL))

    assert not outcome.passed
    assert outcome.evidence == {"missing_column": LABEL}


# --- feature_nulls_within_rate -------------------------------------------------------------


def test_feature_nulls_within_rate_passes_at_the_limit():
    frame = good_frame(10)
    frame.loc[[0, 1], "avg_daily_trips"] = np.nan  # 20 %, equal to the limit

    outcome = feature_nulls_within_rate(frame, SCHEMA, max_null_rate=0.2)

    assert outcome.passed
    assert outcome.evidence == {
        "max_null_rate": 0.2,
        "null_rates": {"conv_rate": 0.0, "acc_rate": 0.0, "avg_daily_trips": 0.2},
        "over_limit": {},
        "missing_features": [],
    }


def test_feature_nulls_within_rate_fails_above_the_limit():
    frame = good_frame(10)
    frame.loc[[0, 1, 2], "avg_daily_trips"] = np.nan  # 30 %

    outcome = feature_nulls_within_rate(frame, SCHEMA, max_null_rate=0.2)

    assert not outcome.passed
    assert outcome.evidence["max_null_rate"] == 0.2
    assert outcome.evidence["null_rates"]["avg_daily_trips"] == pytest.approx(0.3)
    assert outcome.evidence["over_limit"] == {"avg_daily_trips": pytest.approx(0.3)}
    assert "avg_daily_trips" in outcome.description


def test_feature_nulls_within_rate_fails_when_a_feature_is_renamed():
    frame = good_frame().rename(columns={"conv_rate": "conversion_rate"})

    outcome = feature_nulls_within_rate(frame, SCHEMA, max_null_rate=0.5)

    assert not outcome.passed
    assert "conv_rate" not in outcome.evidence["null_rates"]


def test_feature_nulls_within_rate_names_a_missing_feature():
    frame = good_frame().rename(columns={"conv_rate": "conversion_rate"})

    outcome = feature_nulls_within_rate(frame, SCHEMA, max_null_rate=0.5)

    assert "conv_rate" in outcome.description or "conv_rate" in str(outcome.evidence)


# --- row counts ----------------------------------------------------------------------------


def test_row_count_at_least_passes_at_minimum():
    outcome = row_count_at_least(good_frame(10), minimum=10)

    assert outcome.passed
    assert outcome.evidence == {"min_rows": 10, "rows": 10}


def test_row_count_at_least_fails_with_too_few_rows():
    outcome = row_count_at_least(good_frame(9), minimum=10)

    assert not outcome.passed
    assert outcome.evidence == {"min_rows": 10, "rows": 9}
    assert outcome.description == "9 rows, fewer than 10"


def test_row_count_matches_orders_passes_on_equal_counts():
    outcome = row_count_matches_orders(good_frame(10), order_count=10)

    assert outcome.passed
    assert outcome.evidence == {"orders": 10, "rows": 10, "difference": 0}


@pytest.mark.parametrize(("orders", "difference"), [(8, 2), (12, -2)])
def test_row_count_matches_orders_fails_on_mismatch(orders, difference):
    outcome = row_count_matches_orders(good_frame(10), order_count=orders)

    assert not outcome.passed
    assert outcome.evidence == {"orders": orders, "rows": 10, "difference": difference}
    assert outcome.description == f"10 rows for {orders} orders"


# --- feature_values_in_range ---------------------------------------------------------------


def test_values_in_range_pass_on_valid_rates_and_trips():
    outcome = feature_values_in_range(table(), SCHEMA)

    assert outcome.passed
    assert outcome.evidence["expected_ranges"]["conv_rate"] == "[0, 1]"


def test_values_out_of_range_are_named_with_examples():
    frame = table()
    frame.loc[3, "acc_rate"] = 1.7
    frame.loc[5, "avg_daily_trips"] = -2.0

    outcome = feature_values_in_range(frame, SCHEMA)

    assert not outcome.passed
    assert outcome.evidence["out_of_range"] == {
        "acc_rate": {"rows": 1, "examples": [pytest.approx(1.7)]},
        "avg_daily_trips": {"rows": 1, "examples": [-2.0]},
    }
    assert outcome.evidence["found_min_max"]["acc_rate"][1] == pytest.approx(1.7)


# --- duplicate_rows_within_rate ------------------------------------------------------------


def test_duplicates_within_rate_pass_and_above_it_fail():
    frame = table(100)
    assert duplicate_rows_within_rate(frame, 0.01).passed

    doubled = pd.concat([frame, frame.iloc[:5]], ignore_index=True)
    outcome = duplicate_rows_within_rate(doubled, 0.01)

    assert not outcome.passed
    assert outcome.evidence["duplicate_rows"] == 5
    assert outcome.evidence["duplicate_rate"] == pytest.approx(5 / 105)


def test_duplicates_count_missing_labels_as_equal():
    frame = table(100)
    frame[LABEL] = frame[LABEL].astype("float64")
    frame.loc[:1, LABEL] = np.nan
    frame.loc[1, [ENTITY_KEY, EVENT_TIMESTAMP]] = frame.loc[0, [ENTITY_KEY, EVENT_TIMESTAMP]]

    outcome = duplicate_rows_within_rate(frame, 0.0)

    assert outcome.evidence["duplicate_rows"] == 1
    assert not outcome.passed


# --- features_not_from_the_future ----------------------------------------------------------


def test_leaky_join_with_a_feature_row_after_the_event_fails():
    frame = table()
    assert features_not_from_the_future(frame).passed

    frame.loc[7, FEATURE_TIMESTAMP] = frame.loc[7, EVENT_TIMESTAMP] + pd.Timedelta(hours=2)
    outcome = features_not_from_the_future(frame)

    assert not outcome.passed
    assert outcome.evidence["rows_from_the_future"] == 1
    assert outcome.evidence["examples"][0]["event"] == str(frame.loc[7, EVENT_TIMESTAMP])


# --- an integer feature with and without missing values ------------------------------------


def test_the_dtype_verdict_is_the_same_whether_or_not_some_order_lacks_features():
    healthy = good_frame()
    with_gaps = good_frame()
    # How pandas loads an int32 column in which some order had no stats row.
    with_gaps["avg_daily_trips"] = with_gaps["avg_daily_trips"].astype("float64")
    with_gaps.loc[3, "avg_daily_trips"] = np.nan

    assert expected_columns_with_dtypes(healthy, SCHEMA).passed
    assert expected_columns_with_dtypes(with_gaps, SCHEMA).passed


def test_an_integer_feature_holding_fractions_is_named():
    frame = good_frame()
    frame["avg_daily_trips"] = frame["avg_daily_trips"].astype("float64")
    frame.loc[3, "avg_daily_trips"] = np.nan
    frame.loc[4, "avg_daily_trips"] = 2.5

    outcome = expected_columns_with_dtypes(frame, SCHEMA)

    assert not outcome.passed
    assert outcome.evidence["mistyped_columns"] == {
        "avg_daily_trips": {"expected": "int32", "found": "float64"}
    }


# --- point-in-time audits on joins that really leak ------------------------------------------


def stats_and_orders():
    """Hourly stats of one driver, each hour corrected three hours late, and orders between."""
    hours = pd.date_range("2025-12-01", periods=8, freq="h", tz="UTC")
    first = pd.DataFrame(
        {
            ENTITY_KEY: 1001,
            "datetime": hours,
            "created": hours + pd.Timedelta(minutes=5),
            "conv_rate": np.float32(0.2),
        }
    )
    corrected = first.assign(created=hours + pd.Timedelta(hours=3), conv_rate=np.float32(0.9))
    stats = pd.concat([first, corrected], ignore_index=True)
    orders = pd.DataFrame(
        {
            ENTITY_KEY: np.int64(1001),
            EVENT_TIMESTAMP: hours[1:] + pd.Timedelta(minutes=30),
            LABEL: np.int64(1),
        }
    )
    return stats, orders


def joined_with_latest_versions(direction: str) -> pd.DataFrame:
    """The orders joined with the latest-created version of each stats hour, as a join that
    ignores when rows were written picks it, looking `direction` in time; with the matched
    rows' times as the audit columns."""
    stats, orders = stats_and_orders()
    latest = stats.sort_values("created").drop_duplicates(["datetime"], keep="last")
    joined = pd.merge_asof(
        orders,  # already in time order, so the join's rows line up with them
        latest.sort_values("datetime"),
        left_on=EVENT_TIMESTAMP,
        right_on="datetime",
        by=ENTITY_KEY,
        direction=direction,
    )
    return orders.assign(
        **{
            FEATURE_TIMESTAMP: joined["datetime"].to_numpy(),
            FEATURE_CREATED: joined["created"].to_numpy(),
        }
    )


def test_a_join_that_takes_the_nearest_stats_row_leaks_the_future():
    # A common mistake: the next row in time rather than the latest one at or before.
    outcome = features_not_from_the_future(joined_with_latest_versions("forward"))

    assert not outcome.passed
    assert outcome.evidence["rows_from_the_future"] == 6  # the last order has no later row


def test_a_join_that_ignores_when_rows_were_written_uses_late_corrections():
    # The latest version per hour, as a join without filter_by_created_timestamp picks it.
    table = joined_with_latest_versions("backward")

    outcome = features_created_before_order(table)

    assert features_not_from_the_future(table).passed
    assert not outcome.passed
    assert outcome.evidence["rows_created_after_order"] == len(table)
    assert (
        outcome.evidence["examples"][0][FEATURE_CREATED] > outcome.evidence["examples"][0]["event"]
    )


def test_rows_written_before_their_order_pass_the_created_audit():
    assert features_created_before_order(good_frame()).passed


# --- feature_times_not_null: the feature files' timestamp and created columns ---------------


def pandas_stats(n: int = 48) -> pd.DataFrame:
    """Hourly stats as a user's pandas code writes them, in the template's layout."""
    hours = pd.date_range("2025-12-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "datetime": hours,
            "driver_id": np.arange(n, dtype=np.int64) % 3 + 1001,
            "conv_rate": np.linspace(0, 1, n),
            "acc_rate": np.linspace(1, 0, n),
            "avg_daily_trips": np.arange(n, dtype=np.int64),
            "created": hours + pd.Timedelta(minutes=5),
        }
    )


def feast_generated_stats() -> pd.DataFrame:
    """Feast's own generator's stats, with its column names (event_timestamp, created)."""
    np.random.seed(8)
    return create_driver_hourly_stats_df(
        [5001, 5002, 5003],
        pd.Timestamp("2021-04-01", tz="UTC"),
        pd.Timestamp("2021-04-02", tz="UTC"),
    )


STATS_MAKERS = {
    "pandas": (pandas_stats, "datetime"),
    "feast_generator": (feast_generated_stats, "event_timestamp"),
}


def stats_source(tmp_path, frame: pd.DataFrame, timestamp: str) -> FeatureSource:
    path = tmp_path / "driver_stats.parquet"
    frame.to_parquet(path, index=False)
    return FeatureSource("driver_stats", str(path), timestamp, "created")


@pytest.fixture(params=sorted(STATS_MAKERS))
def made(request) -> tuple[pd.DataFrame, str]:
    make, timestamp = STATS_MAKERS[request.param]
    return make(), timestamp


def test_feature_times_not_null_passes_on_stats_with_every_time(tmp_path, made):
    frame, timestamp = made
    source = stats_source(tmp_path, frame, timestamp)

    outcome = feature_times_not_null([source], 0.0)

    assert outcome.passed, outcome.description
    assert outcome.evidence["null_counts"] == {
        f"driver_stats.{timestamp}": 0,
        "driver_stats.created": 0,
    }
    assert outcome.evidence["rows"] == {"driver_stats": len(frame)}
    assert outcome.evidence["files"] == {"driver_stats": source.path}


def test_feature_times_not_null_fails_on_a_file_with_no_created_time(tmp_path, made):
    frame, timestamp = made
    # What a spreadsheet export or a writer that never stamped rows leaves: an empty column.
    source = stats_source(tmp_path, frame.assign(created=pd.NaT), timestamp)

    outcome = feature_times_not_null([source], 0.0)

    assert not outcome.passed
    assert outcome.evidence["null_rates"]["driver_stats.created"] == 1.0
    assert outcome.evidence["over_limit"] == {"driver_stats.created": 1.0}
    assert outcome.evidence["max_null_rate"] == 0.0
    assert f"driver_stats.created null on {len(frame)} of {len(frame)} rows" in (
        outcome.description
    )
    assert source.path in outcome.description


def test_feature_times_not_null_fails_on_some_rows_without_created(tmp_path, made):
    frame, timestamp = made
    frame = frame.copy()
    frame.loc[frame.index[:2], "created"] = pd.NaT
    source = stats_source(tmp_path, frame, timestamp)

    outcome = feature_times_not_null([source], 0.0)

    assert not outcome.passed
    assert outcome.evidence["null_counts"]["driver_stats.created"] == 2
    assert outcome.evidence["null_rates"]["driver_stats.created"] == 2 / len(frame)
    assert list(outcome.evidence["over_limit"]) == ["driver_stats.created"]


def test_feature_times_not_null_fails_on_a_row_without_its_timestamp(tmp_path, made):
    frame, timestamp = made
    frame = frame.copy()
    frame.loc[frame.index[3], timestamp] = pd.NaT
    source = stats_source(tmp_path, frame, timestamp)

    outcome = feature_times_not_null([source], 0.0)

    assert not outcome.passed
    assert outcome.evidence["null_counts"][f"driver_stats.{timestamp}"] == 1
    assert list(outcome.evidence["over_limit"]) == [f"driver_stats.{timestamp}"]
    assert f"driver_stats.{timestamp} null on 1 of {len(frame)} rows" in outcome.description


def test_feature_times_not_null_passes_under_a_configured_rate(tmp_path, made):
    frame, timestamp = made
    frame = frame.copy()
    frame.loc[frame.index[:2], "created"] = pd.NaT
    source = stats_source(tmp_path, frame, timestamp)
    rate = 2 / len(frame)

    assert feature_times_not_null([source], rate).passed
    assert not feature_times_not_null([source], rate / 2).passed


def test_feature_times_not_null_counts_nulls_in_text_times(tmp_path):
    # Feast's offline writer appends times as ISO 8601 text; a missing one is a null string.
    frame = pandas_stats(4).astype({"created": "string"})
    frame.loc[1, "created"] = None
    source = stats_source(tmp_path, frame, "datetime")

    outcome = feature_times_not_null([source], 0.0)

    assert not outcome.passed
    assert outcome.evidence["null_counts"]["driver_stats.created"] == 1


def test_feature_times_not_null_names_a_time_column_the_file_lacks(tmp_path):
    source = stats_source(tmp_path, pandas_stats(4).drop(columns="created"), "datetime")

    outcome = feature_times_not_null([source], 0.0)

    assert not outcome.passed
    assert outcome.evidence["missing_columns"] == {"driver_stats": ["created"]}
    assert "no column ['created']" in outcome.description


# --- feature_keys_not_null: a feature file's rows without a join key -----------------------


def keyed_source(tmp_path, frame: pd.DataFrame, timestamp: str) -> FeatureSource:
    path = tmp_path / "driver_stats.parquet"
    frame.to_parquet(path, index=False)
    return FeatureSource("driver_stats", str(path), timestamp, "created", keys=("driver_id",))


def test_feature_keys_not_null_passes_when_every_row_has_its_driver(tmp_path, made):
    frame, timestamp = made

    outcome = feature_keys_not_null([keyed_source(tmp_path, frame, timestamp)])

    assert outcome.passed, outcome.description
    assert outcome.evidence["null_counts"] == {"driver_stats.driver_id": 0}


def test_feature_keys_not_null_fails_on_rows_without_a_driver(tmp_path, made):
    frame, timestamp = made
    # pandas turns the int column to float to hold the missing ids, as a user's edit would.
    frame = frame.astype({"driver_id": "float64"})
    frame.loc[frame.index[::4], "driver_id"] = np.nan
    source = keyed_source(tmp_path, frame, timestamp)

    outcome = feature_keys_not_null([source])

    nulls = len(frame.index[::4])
    assert not outcome.passed
    assert outcome.evidence["null_counts"] == {"driver_stats.driver_id": nulls}
    assert f"driver_stats.driver_id null on {nulls} of {len(frame)} rows" in outcome.description
    assert source.path in outcome.description
