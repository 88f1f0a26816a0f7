"""The prediction log: every answered prediction with an identity, for joining the outcomes
when the labels arrive.

One row per scored request row: a `prediction_id`, where it was scored (`source`: online or
batch) and in which part (`role`: the champion's answer, or a challenger scored in shadow and
never returned), the request's key (entity key and event time), the model name and version,
the features it was scored on (JSON text) and whether the store had them, the prediction (null
when not scored), when it was scored, and the process that logged it (`writer`) with a
sequence number of its own.

Rows are logged in files (or tables) partitioned by the day of the request's event time, so a
day's outcomes and quality read one partition. A writer numbers its rows 1, 2, 3, ... in the
order they were answered: a gap in a writer's sequence is a lost write, countable from the log
alone (`sequence_gaps`).
"""

import json
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP

ONLINE, BATCH = "online", "batch"
CHAMPION, CHALLENGER = "champion", "challenger"
# The champion the current one replaced, scored in shadow so that a move can be judged live
# against what it replaced, on the same requests.
PREVIOUS = "previous"
SHADOW_ROLES = (CHALLENGER, PREVIOUS)
LOG_SCHEMA = pa.schema(
    [
        ("prediction_id", pa.string()),
        ("source", pa.string()),
        ("role", pa.string()),
        (ENTITY_KEY, pa.int64()),
        (EVENT_TIMESTAMP, pa.timestamp("us", tz="UTC")),
        ("model_name", pa.string()),
        ("model_version", pa.int64()),
        ("features", pa.string()),
        ("features_found", pa.bool_()),
        ("prediction", pa.float64()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
        ("writer", pa.string()),
        ("sequence", pa.int64()),
    ]
)


def new_prediction_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Prediction:
    """One scored request row, as answered (or, in shadow, as it would have been)."""

    prediction_id: str
    source: str
    role: str
    entity: int
    event_timestamp: datetime
    model_name: str
    model_version: int
    features: Mapping[str, float | int | None]
    features_found: bool
    prediction: float | None
    scored_at: datetime


def as_table(predictions: Iterable[Prediction], writer: str, first_sequence: int) -> pa.Table:
    """The predictions as rows of LOG_SCHEMA, numbered from `first_sequence`."""
    rows = [
        {
            "prediction_id": p.prediction_id,
            "source": p.source,
            "role": p.role,
            ENTITY_KEY: p.entity,
            EVENT_TIMESTAMP: p.event_timestamp,
            "model_name": p.model_name,
            "model_version": p.model_version,
            "features": json.dumps(dict(p.features), sort_keys=True),
            "features_found": p.features_found,
            "prediction": p.prediction,
            "scored_at": p.scored_at,
            "writer": writer,
            "sequence": first_sequence + offset,
        }
        for offset, p in enumerate(predictions)
    ]
    return pa.Table.from_pylist(rows, schema=LOG_SCHEMA)


class PredictionSink(Protocol):
    """Where logged rows go; `write` returns once they are durable."""

    def write(self, table: pa.Table) -> None: ...

    def read(self, day: date, columns: list[str] | None = None) -> pa.Table: ...


def event_days(table: pa.Table) -> list[date]:
    """The distinct UTC days of the rows' event times, in order."""
    days = pc.unique(pc.cast(table.column(EVENT_TIMESTAMP), pa.date32())).to_pylist()
    return sorted(day for day in days if day is not None)


class ParquetSink:
    """The embedded defaults' log: parquet files under `root/day=YYYY-MM-DD/`, one per write
    and day, each written under a temporary name and renamed into place, so a reader never
    sees half a file and a kill mid-write leaves only a hidden temporary file."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def folder(self, day: date) -> Path:
        return self.root / f"day={day.isoformat()}"

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        day_of_row = pc.cast(table.column(EVENT_TIMESTAMP), pa.date32())
        first = f"{table.column('writer')[0]}-{table.column('sequence')[0].as_py():012d}"
        for day in event_days(table):
            rows = table.filter(pc.equal(day_of_row, pa.scalar(day, pa.date32())))
            folder = self.folder(day)
            folder.mkdir(parents=True, exist_ok=True)
            final = folder / f"{first}.parquet"
            temporary = folder / f".{final.name}.tmp"
            pq.write_table(rows, temporary)
            os.replace(temporary, final)

    def read(self, day: date, columns: list[str] | None = None) -> pa.Table:
        """The day's logged rows (only `columns` of LOG_SCHEMA, when given); none when nothing
        was logged for that day."""
        files = sorted(self.folder(day).glob("[!.]*.parquet"))
        wanted = columns or LOG_SCHEMA.names
        if not files:
            return LOG_SCHEMA.empty_table().select(wanted)
        return pa.concat_tables(_read_logged(path, wanted) for path in files)


def _read_logged(path: Path, columns: list[str]) -> pa.Table:
    """`columns` of one log file, in LOG_SCHEMA's types; a column the file was written without
    (an older log) reads as nulls. Read as the file holds them and cast only when they
    differ: handing the schema to the reader costs twice the read."""
    expected = pa.schema([LOG_SCHEMA.field(name) for name in columns])
    present = set(pq.read_schema(path).names)
    table = pq.read_table(path, columns=[name for name in columns if name in present])
    for name in columns:
        if name not in present:
            table = table.append_column(
                expected.field(name), pa.nulls(table.num_rows, expected.field(name).type)
            )
    table = table.select(columns)
    return table if table.schema.equals(expected) else table.cast(expected)


class PredictionLog:
    """Rows are held in memory and written every `flush_seconds` by a background thread, so an
    answer pays an append, not a write; a kill loses at most the last interval's rows.

    A failed write keeps its rows for the next flush, up to `max_pending` rows; rows beyond that
    are dropped and counted in `dropped` (and show as a gap in this writer's sequence).
    """

    def __init__(
        self,
        sink: PredictionSink,
        flush_seconds: float = 1.0,
        max_pending: int = 100_000,
        writer: str | None = None,
    ):
        self.sink, self.flush_seconds, self.max_pending = sink, flush_seconds, max_pending
        self.writer = writer or uuid.uuid4().hex[:12]
        self.logged = self.dropped = self.failed_writes = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._next_sequence = 1
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pending_rows(self) -> int:
        """Rows recorded and not yet written."""
        return self._pending_rows

    def record(self, predictions: list[Prediction]) -> None:
        """Queue the predictions, numbered in the order they are recorded."""
        with self._lock:
            table = as_table(predictions, self.writer, self._next_sequence)
            self._next_sequence += table.num_rows
            if self._pending_rows + table.num_rows > self.max_pending:
                self.dropped += table.num_rows
                return
            self._pending.append(table)
            self._pending_rows += table.num_rows

    def flush(self) -> None:
        """Write what is queued; on failure it stays queued for the next flush."""
        with self._flushing:
            with self._lock:
                pending, self._pending, self._pending_rows = self._pending, [], 0
            if not pending:
                return
            table = pa.concat_tables(pending)
            try:
                self.sink.write(table)
            except Exception:
                self.failed_writes += 1
                with self._lock:
                    self._pending.insert(0, table)
                    self._pending_rows += table.num_rows
                raise
            self.logged += table.num_rows

    def start(self) -> "PredictionLog":
        """Flush every `flush_seconds` in a daemon thread until `close`."""
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # counted in failed_writes; the rows wait for the next flush
                pass

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()


def sequence_gaps(table: pa.Table) -> dict[str, int]:
    """Per writer, how many sequence numbers between its first and last logged row are
    missing: rows answered but never written."""
    gaps = {}
    for writer in pc.unique(table.column("writer")).to_pylist():
        numbers = table.filter(pc.equal(table.column("writer"), writer)).column("sequence")
        low, high = pc.min(numbers).as_py(), pc.max(numbers).as_py()
        missing = (high - low + 1) - len(pc.unique(numbers))
        if missing:
            gaps[writer] = missing
    return gaps


def scored_now() -> datetime:
    return datetime.now(UTC)
