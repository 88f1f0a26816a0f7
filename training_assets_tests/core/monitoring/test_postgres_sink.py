"""The production profile's prediction log sink, on the PostgreSQL of 127.0.0.1 with a
database of the test's own: the table is made on first use, rows come back by the day of
their event time as the parquet sink gives them, and a retried write counts its rows once."""

from dataclasses import replace
from datetime import date

import pytest

from training_assets.core.monitoring.postgres_sink import PostgresSink, libpq_url, sink_for
from training_assets.core.monitoring.prediction_log import (
    CHALLENGER,
    ParquetSink,
    PredictionLog,
    as_table,
)
from training_assets_tests.core.monitoring.test_prediction_log import prediction
from training_assets_tests.services import postgres_database, postgres_url


@pytest.mark.services
def test_rows_come_back_by_day_as_the_parquet_sink_gives_them_and_a_retry_counts_once(tmp_path):
    first = prediction(1001, "2026-12-06T23:59:59+00:00")
    second = prediction(1002, "2026-12-07T00:00:00+01:00")  # 23:00 UTC on the 6th
    third = prediction(1003, "2026-12-07T00:00:00+00:00", value=None)
    shadow = replace(first, role=CHALLENGER, model_version=4, prediction=0.25)
    rows = [first, second, third, shadow]
    with postgres_database("predlog") as database:
        sink = sink_for(postgres_url(database), tmp_path / "unused")
        assert isinstance(sink, PostgresSink)
        parquet = ParquetSink(tmp_path / "parquet")
        for target in (sink, parquet):
            log = PredictionLog(target, writer="w1")
            log.record(rows)
            log.flush()
        # The same rows again, as a write retried after a lost reply would send them.
        sink.write(as_table(rows, "w1", 1))
        try:
            for day in (date(2026, 12, 6), date(2026, 12, 7), date(2026, 12, 8)):
                assert sink.read(day).to_pylist() == parquet.read(day).to_pylist()
            assert sink.read(date(2026, 12, 6)).num_rows == 3
        finally:
            sink.close()


def test_a_log_url_that_is_not_postgresql_is_refused_and_none_means_parquet(tmp_path):
    with pytest.raises(ValueError, match="must be a PostgreSQL URL"):
        sink_for("mysql://user@host/db", tmp_path)
    assert isinstance(sink_for(None, tmp_path), ParquetSink)
    assert libpq_url("postgresql+psycopg2://u@h:5432/d") == "postgresql://u@h:5432/d"
