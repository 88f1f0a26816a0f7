"""A batch's rows as the prediction log records them: built column by column, they read back
as the log's own writer writes single predictions."""

import json
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from training_assets.core.ml.batch import Scored, log_rows, new_prediction_ids
from training_assets.core.monitoring.prediction_log import (
    LOG_SCHEMA,
    ParquetSink,
    Prediction,
    as_table,
    sequence_gaps,
)

FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]


def batch() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_timestamp": pd.to_datetime(
                ["2025-12-10T23:59:59Z", "2025-12-11T00:00:00Z", "2025-12-11T08:00:00Z"],
                utc=True,
            ),
            "driver_id": np.array([1001, 1002, 9001], dtype="int64"),
            "conv_rate": np.array([0.25, 0.5, np.nan], dtype="float32"),
            "acc_rate": [0.125, 0.75, np.nan],
            "avg_daily_trips": [12.0, 30.0, np.nan],
            "features_found": [True, True, False],
        }
    )


def test_batch_rows_are_logged_as_the_log_writes_one_prediction(tmp_path):
    frame = batch()
    at = datetime(2026, 12, 7, 12, tzinfo=UTC)
    ids = new_prediction_ids(len(frame))
    scored = Scored("champion", "m", 3, np.array([0.5, 0.25, 0.75]), ids, at)

    table = log_rows(frame, FEATURES, scored, writer="batch-r1")

    assert table.schema == LOG_SCHEMA
    assert len(set(ids)) == 3
    one = Prediction(
        prediction_id=ids[0],
        source="batch",
        role="champion",
        entity=1001,
        event_timestamp=datetime(2025, 12, 10, 23, 59, 59, tzinfo=UTC),
        model_name="m",
        model_version=3,
        features={"conv_rate": 0.25, "acc_rate": 0.125, "avg_daily_trips": 12.0},
        features_found=True,
        prediction=0.5,
        scored_at=at,
    )
    expected = as_table([one], "batch-r1", 1).to_pylist()[0]
    got = table.to_pylist()[0]
    assert json.loads(got.pop("features")) == json.loads(expected.pop("features"))
    assert got == expected
    # A row without features logs its missing values as null.
    assert json.loads(table.column("features")[2].as_py())["conv_rate"] is None

    sink = ParquetSink(tmp_path)
    sink.write(table)
    # The row at 23:59:59 belongs to the 10th, the one at midnight to the 11th.
    assert sink.read(date(2025, 12, 10)).column("prediction_id").to_pylist() == ids[:1]
    assert sink.read(date(2025, 12, 11)).column("prediction_id").to_pylist() == ids[1:]


def test_a_shadow_score_continues_the_writers_sequence(tmp_path):
    frame = batch()
    at = datetime.now(UTC)
    champion = Scored("champion", "m", 3, np.zeros(3), new_prediction_ids(3), at)
    challenger = Scored("challenger", "m", 4, np.ones(3), new_prediction_ids(3), at)
    sink = ParquetSink(tmp_path)
    sink.write(log_rows(frame, FEATURES, champion, "w"))
    sink.write(log_rows(frame, FEATURES, challenger, "w", first_sequence=4))

    logged = pd.concat(
        [sink.read(day).to_pandas() for day in (date(2025, 12, 10), date(2025, 12, 11))]
    )
    assert sorted(logged["sequence"]) == [1, 2, 3, 4, 5, 6]
    assert sequence_gaps(pa_table(logged)) == {}
    roles = logged.groupby("role")["model_version"].unique()
    assert roles.to_dict() == {"challenger": [4], "champion": [3]}


def pa_table(frame: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, schema=LOG_SCHEMA, preserve_index=False)


def test_an_empty_batch_logs_nothing(tmp_path):
    empty = batch().iloc[:0]
    scored = Scored("champion", "m", 3, np.array([]), [], datetime.now(UTC))
    table = log_rows(empty, FEATURES, scored, "w")
    assert table.num_rows == 0 and table.schema == LOG_SCHEMA
    ParquetSink(tmp_path).write(table)
    assert not any(tmp_path.iterdir())
