"""Reading the orders (label) files users provide: one file or a folder of them, each parquet
or delimited text (CSV, TSV), with timestamps as timestamps or as ISO strings. A location is a
local path or an fsspec URL (`s3://bucket/orders/`); see `locations`."""

from collections.abc import Iterator
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from upath import UPath

from feast_asof import times
from training_assets.core.data import locations, storage
from training_assets.core.data.snapshot import Files
from training_assets.core.schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    LABEL,
    ORDERS_DTYPES,
)
from training_assets.core.timing import timed

# The file names a folder of orders is read from; anything else in it (a README, a file still
# being copied in as `x.parquet.part`) is left alone.
ORDERS_SUFFIXES = (".parquet", ".csv", ".tsv")
_PARQUET_MAGIC = b"PAR1"
_DELIMITERS = ("\t", ",", ";", "|")
# Byte order marks and the codec that reads past each; UTF-32's before UTF-16's, which they
# begin with.
_BYTE_ORDER_MARKS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
    (b"\xef\xbb\xbf", "utf-8"),
)


# Key of `DataFrame.attrs` under which read_orders lists the columns it left out.
IGNORED_COLUMNS = "ignored_columns"


class OrdersError(ValueError):
    """The orders location or its content does not fit the orders schema."""


def order_files(location: UPath) -> list[UPath]:
    """The orders files at `location`: the file itself, or a folder's parquet, CSV and TSV
    files by name.

    Hidden files and files with a temporary suffix are skipped, so that a file still being
    copied in under a temporary name is never read half-written.
    """
    locations.forget_listings(location)
    with locations.accessing(location):
        if location.is_file():
            return [location]
        if location.is_dir():
            return sorted(
                p
                for p in location.iterdir()
                if p.is_file()
                and p.suffix.lower() in ORDERS_SUFFIXES
                and not p.name.startswith((".", "_"))
            )
    raise OrdersError(f"orders location {location} does not exist")


def count_orders(location: UPath) -> int:
    """The number of order rows at `location`; parquet files are counted from their footers."""
    total = 0
    for path in order_files(location):
        if _is_parquet(path):
            total += locations.parquet_rows(path)
        else:
            total += _read_text(path, columns=[ENTITY_KEY]).num_rows
    return total


def _is_parquet(path: UPath) -> bool:
    """Parquet by content, whatever the name: the format's magic bytes open the file."""
    with path.open("rb") as handle:
        return handle.read(len(_PARQUET_MAGIC)) == _PARQUET_MAGIC


def _read_table(path: UPath) -> pa.Table:
    """The file at `path` as an Arrow table, parquet or delimited text."""
    if _is_parquet(path):
        try:
            return locations.read_parquet(path)
        except (pa.ArrowInvalid, OSError) as error:
            raise OrdersError(f"{path}: unreadable parquet file: {error}") from error
    return _read_text(path)


def _read_text(path: UPath, columns: list[str] | None = None) -> pa.Table:
    """A CSV or TSV file, its encoding read off its byte order mark (UTF-8 without one) and
    its delimiter off the header line."""
    encoding, delimiter = _text_layout(path)
    try:
        with locations.open_input(path) as handle:
            table = pacsv.read_csv(
                handle,
                read_options=pacsv.ReadOptions(encoding=encoding),
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                # An empty field is a missing value, which the null check then names.
                convert_options=pacsv.ConvertOptions(
                    include_columns=columns, strings_can_be_null=True
                ),
            )
    except (pa.ArrowInvalid, KeyError, UnicodeDecodeError) as error:
        raise OrdersError(
            f"{path}: not a readable delimited file (encoding {encoding}, delimiter "
            f"{delimiter!r}): {error}"
        ) from error
    if not table.num_rows:
        # Its columns read as nulls then, which every later check would misname.
        raise OrdersError(f"{path}: holds no rows, only a header line ({table.column_names})")
    return table


def _text_layout(path: UPath) -> tuple[str, str]:
    """The text file's encoding, from its byte order mark (UTF-8 without one), and the
    delimiter that splits its header line into the most fields (tab, comma, ; or |).

    A spreadsheet's "Unicode text" export is UTF-16 with a byte order mark: read as such.

    Raises:
        OrdersError: for UTF-16 or UTF-32 without a byte order mark (NUL bytes in the header
            line), which cannot be told apart reliably, naming the encoding to save it in.
    """
    with path.open("rb") as handle:
        # read() rather than readline(limit), which fsspec's files do not take.
        start = handle.read(1 << 16)
    # Python's codecs read the mark and drop it; the longer UTF-32 marks first.
    encoding = next((name for mark, name in _BYTE_ORDER_MARKS if start.startswith(mark)), "utf-8")
    if encoding == "utf-8" and b"\x00" in start.split(b"\n", 1)[0]:
        raise OrdersError(
            f"{path}: the header line holds NUL bytes, as UTF-16 or UTF-32 text without a byte "
            "order mark does; save the file as UTF-8, or as UTF-16 with its byte order mark "
            '(a spreadsheet\'s "Unicode text")'
        )
    text = start.decode(encoding, errors="replace")
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    return encoding, max(_DELIMITERS, key=header.count)


def read_orders(location: UPath) -> pd.DataFrame:
    """Read and validate the orders at `location` into the orders schema, as a frame whose
    `attrs[IGNORED_COLUMNS]` lists the columns left out.

    Raises:
        OrdersError: naming the file and column that is missing, mistyped or null.
    """
    table, ignored = read_orders_table(location)
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    # Arrow's allocator keeps the decompression buffers for reuse; the join that follows
    # allocates through DuckDB's, so hand them back now rather than carry them through it.
    storage.release_memory()
    frame.attrs[IGNORED_COLUMNS] = ignored
    return frame


@timed("orders read")
def read_orders_table(location: UPath) -> tuple[pa.Table, list[str]]:
    """The orders at `location`, validated into the orders schema, as one Arrow table; and
    the columns left out.

    Raises:
        OrdersError: naming the file and column that is missing, mistyped or null.
    """
    found = open_orders(location)
    return pa.concat_tables(found.tables()), found.ignored


def list_orders(location: UPath) -> Files:
    """The orders files at `location`, listed once with their sizes and times: the snapshot a
    run digests, reads and re-checks."""
    return Files.listed(location, order_files(location))


def open_orders(location: "UPath | Files") -> "Orders":
    """The orders at `location` (or in a listed snapshot of it), checked against the orders
    schema file by file, to be read in batches (`Orders.tables`).

    Parquet files are checked from their footers here and read later, batch by batch, only
    their orders columns: no step holds the whole of a large orders file. Delimited text has
    no footer to check, so text files are read and validated here, and held.

    Raises:
        OrdersError: naming the file and column that is missing, mistyped or null (nulls in
            a parquet file, and its times as text, are named when its batches are read).
    """
    listed = location if isinstance(location, Files) else list_orders(location)
    files = list(listed.paths)
    if not files:
        raise OrdersError(
            f"orders folder {listed.location} holds no orders files "
            f"({', '.join('*' + suffix for suffix in ORDERS_SUFFIXES)})"
        )
    entries: list[tuple[UPath, pa.Table | None]] = []
    schemas, names, rows = [], set(), 0
    for path in files:
        if _is_parquet(path):
            try:
                metadata = locations.parquet_metadata(path)
            except (pa.ArrowInvalid, OSError) as error:
                raise OrdersError(f"{path}: unreadable parquet file: {error}") from error
            schema = metadata.schema.to_arrow_schema()
            # The footer's columns and types, checked as a table without rows.
            validated, held = _validated(schema.empty_table(), str(path)), None
            count = metadata.num_rows
        else:
            raw = _read_text(path)
            schema, count = raw.schema, raw.num_rows
            validated = held = _validated(raw, source=str(path))
            del raw
        names.update(schema.names)
        schemas.append((path, validated.schema))
        entries.append((path, held))
        rows += count
    # Columns beyond the orders schema are left out; the training_data asset lists them.
    ignored = sorted(name for name in names if name not in ORDERS_DTYPES)
    return Orders(entries, rows, ignored, _common_schema(schemas))


def _common_schema(schemas: list[tuple[UPath, pa.Schema]]) -> pa.Schema:
    """The one schema of all files' validated orders. Labels are passed through as found, so
    files may disagree on their type; "permissive" gives them a common one (int and float
    make float), as pandas would."""
    try:
        return pa.unify_schemas([schema for _, schema in schemas], promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid) as error:
        found = {str(path): str(schema.field(LABEL).type) for path, schema in schemas}
        raise OrdersError(
            f"the orders files' {LABEL!r} columns have no common type: {found}"
        ) from error


class Orders(NamedTuple):
    """Validated orders files, read in batches of the common schema."""

    files: list[tuple[UPath, pa.Table | None]]  # each file, with its table if text (held)
    rows: int
    ignored: list[str]  # columns beyond the orders schema, left out
    schema: pa.Schema

    def tables(self, batch_rows: int = 1 << 20) -> Iterator[pa.Table]:
        """The orders in file order, as tables of up to `batch_rows` rows (a text file's
        rows in one), each of `schema`."""
        yielded = False
        for path, held in self.files:
            for table in [held] if held is not None else self._batches(path, batch_rows):
                yielded = True
                yield table if table.schema == self.schema else table.cast(self.schema)
        if not yielded:
            yield self.schema.empty_table()

    def newest(self) -> pd.Timestamp | None:
        """The latest event time (UTC) among the orders; None when there are none."""
        latest = None
        for table in self.tables():
            # In nanoseconds (the orders' unit), which a Python datetime cannot hold.
            found = pc.max(table.column(EVENT_TIMESTAMP).cast(pa.int64())).as_py()
            if found is not None and (latest is None or found > latest):
                latest = found
        return None if latest is None else pd.Timestamp(latest, unit="ns", tz="UTC")

    def window(self, days: int) -> "OrdersWindow":
        """The orders of the newest `days` days: event times after the newest order's less
        `days` days. A model retrained after the world changed learns the new relation from
        these, not from years of the old one."""
        if days < 1:
            raise OrdersError(f"a training window of {days} days holds no orders")
        newest = self.newest()
        start = None if newest is None else newest - pd.Timedelta(days=days)
        return OrdersWindow(self, days, start)

    def _batches(self, path: UPath, batch_rows: int) -> Iterator[pa.Table]:
        try:
            for batch in locations.parquet_batches(path, batch_rows, list(ORDERS_DTYPES)):
                yield _validated(pa.Table.from_batches([batch]), source=str(path))
        except (pa.ArrowInvalid, OSError) as error:
            raise OrdersError(f"{path}: unreadable parquet file: {error}") from error


class OrdersWindow(NamedTuple):
    """The orders whose event time is after `start` (all of them when there are none)."""

    orders: Orders
    days: int
    start: pd.Timestamp | None

    def tables(self, batch_rows: int = 1 << 20) -> Iterator[pa.Table]:
        """The window's orders in file order, in tables of up to `batch_rows` rows."""
        for table in self.orders.tables(batch_rows):
            if self.start is None:
                yield table
                continue
            times = table.column(EVENT_TIMESTAMP)
            after = pc.greater(times.cast(pa.int64()), pa.scalar(self.start.value, pa.int64()))
            yield table.filter(after)

    def describe(self) -> str:
        start = "none" if self.start is None else self.start.isoformat()
        return f"the newest {self.days} days of orders (event time after {start})"


@timed("requests read")
def read_requests(location: "UPath | Files") -> pd.DataFrame:
    """Read a batch scoring request: the orders layout without the label (`event_timestamp`,
    `driver_id`; a label column, if any, is left out), from the same file types and folders,
    or from exactly the files of a listed snapshot of them.

    Raises:
        OrdersError: naming the file and column that is missing, mistyped or null.
    """
    listed = location if isinstance(location, Files) else list_orders(location)
    files = list(listed.paths)
    if not files:
        raise OrdersError(
            f"request folder {listed.shown} holds no request files "
            f"({', '.join('*' + suffix for suffix in ORDERS_SUFFIXES)})"
        )
    tables = [_validated(_read_table(path), str(path), label=False) for path in files]
    return pa.concat_tables(tables).to_pandas()


def _validated(table: pa.Table, source: str, label: bool = True) -> pa.Table:
    """The orders columns of `table`, checked and cast: UTC nanosecond times, int64 keys."""
    expected = [column for column in ORDERS_DTYPES if label or column != LABEL]
    missing = [column for column in expected if column not in table.column_names]
    if missing:
        raise OrdersError(
            f"{source}: missing column(s) {missing}; expected {expected}, "
            f"found {table.column_names}"
        )
    table = table.select(expected).replace_schema_metadata(None)
    # The join needs keys and times; the label is passed through as found, so that the
    # `labels_are_binary` gate reports bad labels with evidence instead of a read error.
    nulls = {
        column: table.column(column).null_count
        for column in (EVENT_TIMESTAMP, ENTITY_KEY)
        if table.column(column).null_count
    }
    if nulls:
        raise OrdersError(f"{source}: null values in {nulls}")
    time_type = table.schema.field(EVENT_TIMESTAMP).type
    if pa.types.is_string(time_type) or pa.types.is_large_string(time_type):
        table = table.set_column(
            table.schema.get_field_index(EVENT_TIMESTAMP),
            EVENT_TIMESTAMP,
            _parsed_times(table.column(EVENT_TIMESTAMP), source),
        )
        time_type = table.schema.field(EVENT_TIMESTAMP).type
    if not pa.types.is_timestamp(time_type):
        raise OrdersError(
            f"{source}: column {EVENT_TIMESTAMP!r} must be a timestamp, found {time_type}"
        )
    keys = table.schema.field(ENTITY_KEY).type
    if not pa.types.is_integer(keys):
        raise OrdersError(f"{source}: column {ENTITY_KEY!r} must be integer, found {keys}")
    try:
        # Arrow keeps times as UTC instants, so naive times cast to UTC keep their values.
        event_times = table.column(EVENT_TIMESTAMP).cast(pa.timestamp("ns", tz="UTC"))
    except pa.ArrowInvalid as error:
        # A file's own timestamps in seconds or microseconds reach past what nanoseconds hold.
        raise OrdersError(
            f"{source}: column {EVENT_TIMESTAMP!r} holds a time outside the range of times a "
            f"timestamp holds ({times.TIME_RANGE}): {error}"
        ) from None
    try:
        entity_keys = table.column(ENTITY_KEY).cast(pa.int64())
    except pa.ArrowInvalid as error:
        raise OrdersError(f"{source}: column {ENTITY_KEY!r}: {error}") from error
    if not label:
        return pa.table({EVENT_TIMESTAMP: event_times, ENTITY_KEY: entity_keys})
    labels = _numeric_labels(table.column(LABEL), source)
    return pa.table({EVENT_TIMESTAMP: event_times, ENTITY_KEY: entity_keys, LABEL: labels})


def _numeric_labels(labels: pa.ChunkedArray, source: str) -> pa.ChunkedArray:
    """Labels as numbers: integers of any width as int64, numbers in text ("1", "0.0") as
    floats; other numbers pass through for the `labels_are_binary` gate to judge with evidence.

    Raises:
        OrdersError: for text that is no number ("yes", "true"), naming the file, the column
            and the first such value: no gate can judge what the join cannot carry.
    """
    if pa.types.is_integer(labels.type):
        return labels.cast(pa.int64())
    if not (pa.types.is_string(labels.type) or pa.types.is_large_string(labels.type)):
        return labels
    try:
        return labels.cast(pa.float64())
    except pa.ArrowInvalid:
        bad = next(v for v in labels.to_pylist() if v is not None and not _is_number(v))
        raise OrdersError(
            f"{source}: column {LABEL!r} must hold 0 or 1, found {bad!r} (text that is no "
            "number: write the label as 0 and 1)"
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parsed_times(values: pa.ChunkedArray, source: str) -> pa.ChunkedArray:
    """ISO 8601 strings as UTC instants, each value on its own: offsets are honoured, naive
    times are read as UTC whatever the values around them (`times.utc_instants`)."""
    try:
        parsed = times.utc_instants(values)
    except times.TimeParseError as error:
        raise OrdersError(
            f"{source}: column {EVENT_TIMESTAMP!r} holds a value that is {error.what}: "
            f"{error.value!r}"
        ) from None
    if parsed.null_count:
        raise OrdersError(f"{source}: {parsed.null_count} empty {EVENT_TIMESTAMP!r} value(s)")
    return parsed
