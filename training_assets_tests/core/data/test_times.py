"""Every reader of ISO 8601 text in the pipeline reads each value as it reads that value alone:
an offset is honoured, a value without one is UTC, whatever its neighbours (the orders, the batch
requests and the feature files, through feast_asof.times, which feast_asof/tests tests alone)."""

from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feast_asof import store, times
from feast_asof.tests.test_times import MIXED, MIXED_UTC, iso_text
from training_assets.core.data.orders import OrdersError, read_orders, read_requests
from training_assets.core.features import feast_repo
from training_assets.core.schema import ENTITY_KEY, EVENT_TIMESTAMP, LABEL


@settings(max_examples=100, deadline=None)
@given(st.lists(iso_text(), min_size=1, max_size=8))
def test_orders_csv_and_request_files_read_each_time_alone(tmp_path_factory, values):
    folder = tmp_path_factory.mktemp("orders")
    frame = pd.DataFrame(
        {EVENT_TIMESTAMP: values, ENTITY_KEY: range(1001, 1001 + len(values)), LABEL: 1}
    )
    frame.to_csv(folder / "orders.csv", index=False)
    expected = [times.parse_one(value) for value in values]

    assert list(read_orders(folder)[EVENT_TIMESTAMP]) == expected
    assert list(read_requests(folder)[EVENT_TIMESTAMP]) == expected


def test_a_spreadsheet_export_mixing_zones_is_read_alone(tmp_path):
    """A tab-separated export where some rows were typed with their zone and some without."""
    path = tmp_path / "orders.tsv"
    lines = [f"{EVENT_TIMESTAMP}\t{ENTITY_KEY}\t{LABEL}"]
    lines += [f"{value}\t{1001 + i}\t{i % 2}" for i, value in enumerate(MIXED)]
    path.write_text("\r\n".join(lines) + "\r\n")

    assert list(read_orders(path)[EVENT_TIMESTAMP]) == MIXED_UTC


def test_a_parquet_file_of_mixed_text_times_is_read_alone(tmp_path):
    frame = pd.DataFrame({EVENT_TIMESTAMP: MIXED, ENTITY_KEY: range(1001, 1007), LABEL: 0})
    frame.to_parquet(tmp_path / "orders.parquet", index=False)

    assert list(read_orders(tmp_path)[EVENT_TIMESTAMP]) == MIXED_UTC


def test_an_orders_file_with_an_empty_time_is_named(tmp_path):
    frame = pd.DataFrame({EVENT_TIMESTAMP: [MIXED[0], ""], ENTITY_KEY: [1, 2], LABEL: 0})
    frame.to_parquet(tmp_path / "orders.parquet", index=False)

    with pytest.raises(OrdersError, match="1 empty 'event_timestamp'"):
        read_orders(tmp_path)


def test_feature_times_as_mixed_text_are_read_alone(tmp_path):
    """A stats file appended to by hand: the join's feature times and the source's range."""
    path = tmp_path / "stats.parquet"
    pq.write_table(pa.table({"event_timestamp": MIXED}), path)

    epoch = store._epoch_ns(pa.chunked_array([pa.array(MIXED)]), str(path), "ts")
    assert [pd.Timestamp(value, tz="UTC") for value in epoch.to_pylist()] == MIXED_UTC

    class Source:
        timestamp_field = "event_timestamp"

    Source.path = str(path)
    first, last = feast_repo.source_time_range(Source)
    assert (first, last) == (min(MIXED_UTC), max(MIXED_UTC))
    assert last - first == timedelta(hours=15)
