"""The production profile's prediction log: a PostgreSQL table with the columns of LOG_SCHEMA,
created on first use when it is absent.

A row is keyed by its prediction id and role (a challenger's shadow row shares the champion's
prediction id), and a write inserts with ON CONFLICT DO NOTHING: the log retries a write whose
outcome it could not see (the connection dropped after the commit), and the retry must not
count the rows twice. Rows are read back by the UTC day of their event time, as the parquet
sink partitions them.
"""

from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa

from training_assets.core.monitoring.prediction_log import LOG_SCHEMA

DEFAULT_TABLE = "prediction_log"
_SQL_TYPES = {
    pa.string(): "TEXT",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE PRECISION",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}


def libpq_url(url: str) -> str:
    """`url` as libpq reads it: SQLAlchemy's `postgresql+psycopg2://` names a driver that
    psycopg2 itself does not accept."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


class PostgresSink:
    """Rows of LOG_SCHEMA in the table `table` of the database at `url` (a PostgreSQL URL;
    its password, if any, stays in the URL and is never logged)."""

    def __init__(self, url: str, table: str = DEFAULT_TABLE, connect_timeout_s: int = 5):
        if not table.isidentifier():
            raise ValueError(f"prediction log table {table!r} must be a plain SQL identifier")
        self.url, self.table, self.connect_timeout_s = libpq_url(url), table, connect_timeout_s
        self._connection = None

    def _connect(self):
        import psycopg2

        if self._connection is None or self._connection.closed:
            self._connection = psycopg2.connect(self.url, connect_timeout=self.connect_timeout_s)
            self._create_table()
        return self._connection

    def _create_table(self) -> None:
        columns = ", ".join(
            f"{field.name} {_SQL_TYPES[field.type]}"
            + (" NOT NULL" if field.name in ("prediction_id", "role") else "")
            for field in LOG_SCHEMA
        )
        with self._connection, self._connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ({columns}, "
                "PRIMARY KEY (prediction_id, role))"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {self.table}_event_timestamp "
                f"ON {self.table} (event_timestamp)"
            )

    def write(self, table: pa.Table) -> None:
        from psycopg2.extras import execute_values

        if table.num_rows == 0:
            return
        names = LOG_SCHEMA.names
        rows = [tuple(row[name] for name in names) for row in table.to_pylist()]
        connection = self._connect()
        try:
            with connection, connection.cursor() as cursor:
                execute_values(
                    cursor,
                    f"INSERT INTO {self.table} ({', '.join(names)}) VALUES %s "
                    "ON CONFLICT (prediction_id, role) DO NOTHING",
                    rows,
                    page_size=1000,
                )
        except Exception:
            # A connection that failed mid-write is not reused; the next write opens another.
            connection.close()
            raise

    def read(self, day: date, columns: list[str] | None = None) -> pa.Table:
        """The rows whose event time falls on `day` (UTC), in writer and sequence order (only
        `columns` of LOG_SCHEMA, when given)."""
        names = columns or LOG_SCHEMA.names
        start = datetime.combine(day, time(), tzinfo=UTC)
        connection = self._connect()
        with connection, connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(names)} FROM {self.table} "
                "WHERE event_timestamp >= %s AND event_timestamp < %s ORDER BY writer, sequence",
                (start, start + timedelta(days=1)),
            )
            rows = cursor.fetchall()
        schema = pa.schema([LOG_SCHEMA.field(name) for name in names])
        return pa.Table.from_pylist(
            [dict(zip(names, row, strict=True)) for row in rows], schema=schema
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def sink_for(url: str | None, parquet_root):
    """The sink a URL names: PostgreSQL for a `postgresql` URL; parquet files under
    `parquet_root` when there is no URL."""
    from training_assets.core.monitoring.prediction_log import ParquetSink

    if url is None:
        return ParquetSink(parquet_root)
    if not url.split("://", 1)[0].startswith(("postgresql", "postgres")):
        raise ValueError(
            "the prediction log URL must be a PostgreSQL URL (postgresql://user@host/db); "
            f"found one with scheme {url.split('://', 1)[0]!r}"
        )
    return PostgresSink(url)
