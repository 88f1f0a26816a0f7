"""The prediction log of training_assets.core.monitoring.prediction_log."""

import time
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training_assets.core.monitoring.prediction_log import (
    LOG_SCHEMA,
    ParquetSink,
    PredictionLog,
    as_table,
    sequence_gaps,
)
from training_assets_tests.core.monitoring.predictions import a_prediction


def prediction(driver: int, when: str, value: float | None = 0.5):
    return a_prediction(
        driver, when, value, version=3, features={"conv_rate": 0.1, "avg_daily_trips": None}
    )


def test_rows_are_logged_under_the_day_of_their_event_time_with_their_identity(tmp_path):
    sink = ParquetSink(tmp_path)
    log = PredictionLog(sink, writer="w1")
    first = prediction(1001, "2026-12-06T23:59:59+00:00")
    second = prediction(1002, "2026-12-07T00:00:00+01:00")  # 23:00 UTC on the 6th
    third = prediction(1003, "2026-12-07T00:00:00+00:00", value=None)
    log.record([first, second, third])
    log.flush()

    sixth, seventh = sink.read(date(2026, 12, 6)), sink.read(date(2026, 12, 7))
    assert sixth.column("prediction_id").to_pylist() == [first.prediction_id, second.prediction_id]
    assert seventh.column("driver_id").to_pylist() == [1003]
    assert seventh.column("prediction").to_pylist() == [None]
    assert sixth.column("sequence").to_pylist() == [1, 2]
    assert '"avg_daily_trips": null' in sixth.column("features")[0].as_py()
    assert sink.read(date(2026, 12, 8)).num_rows == 0
    assert log.logged == 3


class FailingOnce:
    def __init__(self, sink):
        self.sink, self.failed = sink, False

    def write(self, table: pa.Table) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("store unreachable")
        self.sink.write(table)

    def read(self, day):
        return self.sink.read(day)


def test_a_failed_write_keeps_its_rows_for_the_next_flush(tmp_path):
    sink = ParquetSink(tmp_path)
    log = PredictionLog(FailingOnce(sink), writer="w1")
    log.record([prediction(1001, "2026-12-06T10:00:00+00:00")])
    with pytest.raises(ConnectionError):
        log.flush()
    log.record([prediction(1002, "2026-12-06T11:00:00+00:00")])
    log.flush()

    rows = sink.read(date(2026, 12, 6))
    assert rows.column("driver_id").to_pylist() == [1001, 1002]
    assert (log.logged, log.failed_writes, log.dropped) == (2, 1, 0)


def test_rows_past_the_pending_limit_are_dropped_counted_and_show_as_a_gap(tmp_path):
    sink = ParquetSink(tmp_path)
    log = PredictionLog(sink, max_pending=2, writer="w1")
    log.record([prediction(1001, "2026-12-06T10:00:00+00:00")])
    log.record([prediction(1002, "2026-12-06T10:00:00+00:00")] * 2)  # over the limit
    log.record([prediction(1003, "2026-12-06T10:00:00+00:00")])
    log.flush()

    rows = sink.read(date(2026, 12, 6))
    assert rows.column("sequence").to_pylist() == [1, 4]
    assert log.dropped == 2
    assert sequence_gaps(rows) == {"w1": 2}


def test_a_half_written_file_is_never_read(tmp_path):
    sink = ParquetSink(tmp_path)
    log = PredictionLog(sink, writer="w1")
    log.record([prediction(1001, "2026-12-06T10:00:00+00:00")])
    log.flush()
    # What a kill during a write leaves: a temporary file under a hidden name.
    (sink.folder(date(2026, 12, 6)) / ".w1-000000000002.parquet.tmp").write_bytes(b"PAR1\x00")

    assert sink.read(date(2026, 12, 6)).num_rows == 1


def test_the_background_thread_writes_without_a_flush_call(tmp_path):
    sink = ParquetSink(tmp_path)
    log = PredictionLog(sink, flush_seconds=0.05, writer="w1").start()
    try:
        log.record([prediction(1001, "2026-12-06T10:00:00+00:00")])
        deadline = time.monotonic() + 10
        while sink.read(date(2026, 12, 6)).num_rows == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sink.read(date(2026, 12, 6)).num_rows == 1
    finally:
        log.close()


def test_a_log_file_written_without_a_column_reads_it_as_nulls(tmp_path):
    sink = ParquetSink(tmp_path)
    folder = sink.folder(date(2026, 12, 6))
    folder.mkdir(parents=True)
    rows = as_table([prediction(1001, "2026-12-06 10:00")], writer="w1", first_sequence=1)
    # A file of an older log: no writer column, and the prediction as float32.
    older = rows.drop_columns(["writer"]).set_column(
        rows.schema.get_field_index("prediction"),
        "prediction",
        rows.column("prediction").cast(pa.float32()),
    )
    pq.write_table(older, folder / "old.parquet")

    read = sink.read(date(2026, 12, 6), ["prediction_id", "writer", "prediction"])

    assert read.schema == pa.schema([LOG_SCHEMA.field(n) for n in read.column_names])
    assert read.column("writer").to_pylist() == [None]
    assert read.column("prediction").to_pylist() == [0.5]
