"""Outcomes: logged predictions joined with labels that arrive late, in files whose writers
used other time zones, at the edges of a day; a rescored day counts once."""

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pyarrow as pa

from training_assets.core.data.locations import resolve
from training_assets.core.data.orders import open_orders, read_orders
from training_assets.core.monitoring.outcomes import OUTCOME_COLUMNS, join_outcomes, labels_of_day
from training_assets.core.monitoring.prediction_log import (
    CHALLENGER,
    CHAMPION,
    ParquetSink,
    PredictionLog,
)
from training_assets_tests.core.monitoring.predictions import a_prediction as prediction

DAY = date(2025, 12, 11)


def logged_day(tmp_path, predictions) -> pa.Table:
    sink = ParquetSink(tmp_path / "log")
    log = PredictionLog(sink, writer="w")
    log.record(predictions)
    log.flush()
    return sink.read(DAY)


def test_labels_join_their_own_requests_as_they_arrive(tmp_path):
    first = prediction(1001, "2025-12-11T00:00:00+00:00", 0.75)  # midnight: the 11th
    second = prediction(1002, "2025-12-11T23:59:59+00:00", 0.25)  # the last second of it
    third = prediction(1003, "2025-12-11T12:00:00+00:00", 0.5)
    logged = logged_day(tmp_path, [first, second, third])
    # Only the first order's label has come in; one order of the same driver a second
    # earlier is another request and labels nothing here.
    early = pd.DataFrame(
        {
            "driver_id": [1001, 1001],
            "event_timestamp": pd.to_datetime(
                ["2025-12-11T00:00:00Z", "2025-12-10T23:59:59Z"], utc=True
            ),
            "trip_completed": [1, 0],
        }
    )
    outcomes, counts = join_outcomes(logged, early)
    outcomes = outcomes.to_pandas()
    assert (counts.predictions, counts.labelled_rows, counts.unlabelled_rows) == (3, 1, 2)
    assert outcomes.set_index("driver_id")["trip_completed"].loc[1001] == 1.0
    assert outcomes.set_index("driver_id")["labelled"].to_dict() == {
        1001: True,
        1002: False,
        1003: False,
    }

    # Three days later the rest arrive, one of them in a later file.
    late = pd.concat(
        [
            early,
            pd.DataFrame(
                {
                    "driver_id": [1002, 1003],
                    "event_timestamp": pd.to_datetime(
                        ["2025-12-11T23:59:59Z", "2025-12-11T12:00:00Z"], utc=True
                    ),
                    "trip_completed": [0, 1],
                }
            ),
        ]
    )
    outcomes, counts = join_outcomes(logged, late)
    outcomes = outcomes.to_pandas()
    assert (counts.labelled_rows, counts.unlabelled_rows) == (3, 0)
    assert outcomes.set_index("driver_id")["trip_completed"].to_dict() == {
        1001: 1.0,
        1002: 0.0,
        1003: 1.0,
    }
    assert set(outcomes["prediction_id"]) == {p.prediction_id for p in (first, second, third)}


def test_orders_written_in_other_zones_label_the_same_instants(tmp_path):
    """A CSV whose writer used +01:00, naive UTC and Z labels the logged UTC instants."""
    logged = logged_day(
        tmp_path,
        [
            prediction(1001, "2025-12-11T00:30:00+00:00", 0.5),
            prediction(1002, "2025-12-11T23:30:00+00:00", 0.5),
            prediction(1003, "2025-12-11T10:00:00+00:00", 0.5),
        ],
    )
    folder = tmp_path / "orders"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        "event_timestamp,driver_id,trip_completed\n"
        "2025-12-11T01:30:00+01:00,1001,1\n"  # 00:30 UTC on the 11th
        "2025-12-11 23:30:00,1002,0\n"  # naive: UTC by the contract
        "2025-12-11T10:00:00Z,1003,1\n"
        "2025-12-12T00:30:00+01:00,1002,1\n"  # 23:30 UTC on the 11th as well: a correction
    )
    orders = read_orders(resolve(str(folder)))

    outcomes, counts = join_outcomes(logged, orders)
    outcomes = outcomes.to_pandas()

    assert counts.labelled_rows == 3
    assert counts.conflicting_labels == 1
    # The correction, read last, wins.
    assert outcomes.set_index("driver_id")["trip_completed"].to_dict() == {
        1001: 1.0,
        1002: 1.0,
        1003: 1.0,
    }


def test_a_rescored_request_counts_once_and_each_part_keeps_its_own(tmp_path):
    at = datetime(2026, 1, 1, tzinfo=UTC)
    when = "2025-12-11T08:00:00+00:00"
    rows = [
        prediction(1001, when, 0.2, scored_at=at),
        prediction(1001, when, 0.3, scored_at=at + timedelta(hours=1)),  # the day rescored
        prediction(1001, when, 0.9, role=CHALLENGER, version=2, scored_at=at),
    ]
    logged = logged_day(tmp_path, rows)
    orders = pd.DataFrame(
        {
            "driver_id": [1001],
            "event_timestamp": pd.to_datetime([when], utc=True),
            "trip_completed": [1],
        }
    )

    outcomes, counts = join_outcomes(logged, orders)
    outcomes = outcomes.to_pandas()

    assert counts.logged_rows == 3 and counts.predictions == 2
    assert outcomes.set_index("role")["prediction"].to_dict() == {CHAMPION: 0.3, CHALLENGER: 0.9}
    assert outcomes["labelled"].all()


def test_a_day_with_nothing_logged_has_no_outcomes(tmp_path):
    outcomes, counts = join_outcomes(
        ParquetSink(tmp_path).read(DAY),
        pd.DataFrame({"driver_id": [], "event_timestamp": [], "trip_completed": []}),
    )
    assert outcomes.num_rows == 0 and counts.predictions == 0 and counts.labelled_rows == 0


def test_a_days_labels_are_read_batch_by_batch_from_every_file_and_zone(tmp_path):
    folder = tmp_path / "orders"
    folder.mkdir()
    pd.DataFrame(
        {
            "event_timestamp": pd.to_datetime(
                ["2025-12-10T23:59:59Z", "2025-12-11T00:00:00Z", "2025-12-12T00:00:00Z"],
                utc=True,
            ),
            "driver_id": [1, 2, 3],
            "trip_completed": [0, 1, 0],
        }
    ).to_parquet(folder / "a.parquet", index=False)
    (folder / "b.csv").write_text(
        "event_timestamp,driver_id,trip_completed\n"
        "2025-12-12T00:59:59+01:00,4,1\n"  # 23:59:59 UTC on the 11th
        "2025-12-11T00:30:00+01:00,5,1\n"  # 23:30 UTC on the 10th
    )

    labels = labels_of_day(open_orders(resolve(str(folder))).tables(batch_rows=1), DAY)

    assert sorted(labels.column("driver_id").to_pylist()) == [2, 4]
    assert labels.column_names == ["driver_id", "event_timestamp", "trip_completed"]


def test_outcomes_leave_the_served_features_in_the_log(tmp_path):
    logged = logged_day(tmp_path, [prediction(1001, "2025-12-11T08:00:00+00:00", 0.5)])
    orders = pd.DataFrame({"driver_id": [], "event_timestamp": [], "trip_completed": []})
    outcomes, _ = join_outcomes(logged, orders)
    assert "features" not in outcomes.column_names
    assert outcomes.column_names == OUTCOME_COLUMNS


def test_a_label_read_again_is_no_conflict_and_a_label_withdrawn_is_one(tmp_path):
    when = ["2025-12-11T08:00:00+00:00", "2025-12-11T09:00:00+00:00"]
    logged = logged_day(tmp_path, [prediction(1001, when[0]), prediction(1002, when[1])])
    orders = pa.table(
        {
            "driver_id": pa.array([1001, 1001, 1002, 1002], pa.int64()),
            "event_timestamp": pa.array(
                pd.to_datetime([when[0], when[0], when[1], when[1]], utc=True),
                pa.timestamp("ns", tz="UTC"),
            ),
            # 1001 labelled 1 twice; 1002 labelled 1, then the label withdrawn (null).
            "trip_completed": pa.array([1, 1, 1, None], pa.int64()),
        }
    )
    outcomes, counts = join_outcomes(logged, orders)
    assert counts.conflicting_labels == 1
    assert counts.labelled_rows == 1
    assert outcomes.to_pandas().set_index("driver_id")["labelled"].to_dict() == {
        1001: True,
        1002: False,
    }
