"""Unit tests for the parquet and JSON IO managers in training_assets.defs.resources.io_managers."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import (
    AssetKey,
    IntMetadataValue,
    PathMetadataValue,
    PythonObjectDagsterType,
    TableColumn,
    TableSchema,
    TableSchemaMetadataValue,
    build_input_context,
    build_output_context,
)
from upath import UPath

from training_assets.core.data import storage
from training_assets.core.data.table_query import TableFile, TableQuery
from training_assets.core.records import Evaluation, TrainedModel
from training_assets.defs.resources.io_managers import (
    JsonIOManager,
    ParquetIOManager,
)


@pytest.fixture
def base(tmp_path) -> UPath:
    return UPath(tmp_path) / "assets"


def store(manager, name: str | list[str], obj) -> dict:
    """Write `obj` as asset `name`; returns the metadata the IO manager logged."""
    with build_output_context(asset_key=AssetKey(name)) as context:
        manager.handle_output(context, obj)
        return dict(context.get_logged_metadata())


def load(manager, name: str | list[str]):
    with build_input_context(asset_key=AssetKey(name)) as context:
        return manager.load_input(context)


def metadata_of(manager, name: str, obj) -> dict:
    with build_output_context(asset_key=AssetKey(name)) as context:
        return manager.get_metadata(context, obj)


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": np.array([1001, 1002, 1003], dtype=np.int64),
            "event_timestamp": pd.date_range("2025-12-01", periods=3, freq="h", tz="UTC"),
            "conv_rate": np.array([0.1, 0.5, 0.9], dtype=np.float32),
            "avg_daily_trips": [10.0, np.nan, 30.0],
        }
    )


def listing(path: UPath) -> list[str]:
    return sorted(p.name for p in path.iterdir())


# --- parquet -------------------------------------------------------------------------------


def test_parquet_round_trips_a_frame(base):
    manager = ParquetIOManager(base_path=base)
    original = frame()

    store(manager, "train_x", original)

    assert (base / "train_x.parquet").is_file()
    assert listing(base) == ["train_x.parquet"]
    loaded = load(manager, "train_x")
    assert isinstance(loaded, pd.DataFrame)
    pd.testing.assert_frame_equal(loaded, original)


def test_parquet_drops_the_index(base):
    manager = ParquetIOManager(base_path=base)
    shuffled = frame().set_axis([7, 3, 5])

    store(manager, "train_x", shuffled)

    loaded = load(manager, "train_x")
    assert list(loaded.index) == [0, 1, 2]
    assert list(loaded["driver_id"]) == [1001, 1002, 1003]


def test_parquet_round_trips_a_named_series(base):
    manager = ParquetIOManager(base_path=base)
    series = pd.Series([1, 0, 1, 1], name="trip_completed", dtype=np.int64)

    store(manager, "train_y", series)

    assert listing(base) == ["train_y.parquet"]
    loaded = load(manager, "train_y")
    assert isinstance(loaded, pd.Series)
    pd.testing.assert_series_equal(loaded, series)


def test_parquet_round_trips_an_unnamed_series(base):
    manager = ParquetIOManager(base_path=base)
    series = pd.Series([0.5, 1.5])

    store(manager, "predictions", series)

    loaded = load(manager, "predictions")
    assert loaded.name is None
    assert list(loaded) == [0.5, 1.5]


def test_parquet_series_and_one_column_frame_stay_apart(base):
    manager = ParquetIOManager(base_path=base)

    store(manager, "one_column", pd.DataFrame({"trip_completed": [1, 0]}))

    loaded = load(manager, "one_column")
    assert isinstance(loaded, pd.DataFrame)
    assert list(loaded.columns) == ["trip_completed"]


def test_parquet_writes_under_nested_asset_key(base):
    manager = ParquetIOManager(base_path=base)

    store(manager, ["split", "test_x"], frame())

    assert (base / "split" / "test_x.parquet").is_file()
    loaded = load(manager, ["split", "test_x"])
    pd.testing.assert_frame_equal(loaded, frame())


@pytest.mark.parametrize(
    "obj", [{"rmse": 0.4}, [1, 2, 3], np.array([1.0, 2.0])], ids=["dict", "list", "ndarray"]
)
def test_parquet_rejects_non_frames(base, obj):
    manager = ParquetIOManager(base_path=base)

    with pytest.raises(TypeError, match="takes DataFrames, Series and Arrow tables") as raised:
        store(manager, "train_x", obj)

    assert "train_x" in str(raised.value)
    assert type(obj).__name__ in str(raised.value)
    assert not (base / "train_x.parquet").exists()


def test_parquet_round_trips_an_arrow_table_as_the_frame_it_holds(base):
    manager = ParquetIOManager(base_path=base)
    table = pa.table(
        {
            "driver_id": pa.array([1001, 1002, 1003], pa.int64()),
            "trip_completed": pa.array([1, None, 0], pa.int64()),
            "conv_rate": pa.array([0.1, None, 0.9], pa.float32()),
            "event_timestamp": pa.array([0, 3_600, 7_200], pa.int64()).cast(
                pa.timestamp("ns", tz="UTC")
            ),
        }
    )

    logged = store(manager, "training_data", table)
    loaded = load(manager, "training_data")

    pd.testing.assert_frame_equal(loaded, table.to_pandas())
    # The logged schema is the one the frame loads back with, nullable integers as floats.
    assert {c.name: c.type for c in logged["dagster/column_schema"].schema.columns} == {
        name: str(dtype) for name, dtype in loaded.dtypes.items()
    }
    assert str(loaded["trip_completed"].dtype) == "float64"
    assert logged["dagster/row_count"] == IntMetadataValue(3)


def test_an_input_typed_table_file_gets_the_file_not_a_frame(base):
    manager = ParquetIOManager(base_path=base)
    store(manager, "training_data", frame())

    with build_input_context(
        asset_key=AssetKey("training_data"), dagster_type=PythonObjectDagsterType(TableFile)
    ) as context:
        loaded = manager.load_input(context)

    assert isinstance(loaded, TableFile)
    assert UPath(loaded.path) == base / "training_data.parquet"
    with TableQuery(loaded) as query:
        assert query.num_rows == 3
        assert query.one("SELECT sum(avg_daily_trips) FROM {t}") == (40.0,)


def test_an_input_typed_arrow_table_gets_the_arrow_table_not_a_frame(base):
    manager = ParquetIOManager(base_path=base)
    table = pa.table({"role": ["champion", "challenger"], "trip_completed": [1.0, None]})
    store(manager, "prediction_outcomes", table)

    with build_input_context(
        asset_key=AssetKey("prediction_outcomes"), dagster_type=PythonObjectDagsterType(pa.Table)
    ) as context:
        loaded = manager.load_input(context)

    assert isinstance(loaded, pa.Table)
    assert loaded.equals(table)


@pytest.mark.parametrize("where", ["local", "memory"])
def test_a_table_file_output_is_moved_into_place_with_its_metadata(tmp_path, where):
    base = UPath(tmp_path) / "assets" if where == "local" else UPath("memory://io/assets")
    manager = ParquetIOManager(base_path=base)
    staged = tmp_path / "staging" / "training_data.parquet"
    staged.parent.mkdir()
    table = pa.Table.from_pandas(frame(), preserve_index=False)
    pq.write_table(table, staged)

    logged = store(manager, "training_data", TableFile(str(staged)))

    try:
        with (base / "training_data.parquet").open("rb") as handle:
            assert pq.read_table(handle).equals(table)
        assert not staged.exists()
        assert logged["dagster/row_count"] == IntMetadataValue(3)
        columns = {c.name: c.type for c in logged["dagster/column_schema"].schema.columns}
        assert columns["avg_daily_trips"] == "float64"  # a null in it
        assert columns["driver_id"] == "int64"
    finally:
        if where == "memory":
            base.fs.rm("/io", recursive=True)


def test_interrupted_write_keeps_previous_file(base, monkeypatch):
    manager = ParquetIOManager(base_path=base)
    old = frame()
    store(manager, "train_x", old)
    good_bytes = (base / "train_x.parquet").read_bytes()

    calls = []

    def write_then_fail(table, where, *args, **kwargs):
        calls.append(table.num_rows)
        where.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(storage.pq, "write_table", write_then_fail)
    new = pd.DataFrame({"driver_id": np.arange(10, dtype=np.int64)})
    with pytest.raises(OSError, match="disk full"):
        store(manager, "train_x", new)
    monkeypatch.undo()

    assert calls == [10], "the fault must have been hit by the second write"
    assert listing(base) == ["train_x.parquet"]
    assert (base / "train_x.parquet").read_bytes() == good_bytes
    pd.testing.assert_frame_equal(load(manager, "train_x"), old)


def test_interrupted_first_write_leaves_nothing(base, monkeypatch):
    manager = ParquetIOManager(base_path=base)

    def write_then_fail(table, where, *args, **kwargs):
        where.write(b"PAR1")
        raise OSError("disk full")

    monkeypatch.setattr(storage.pq, "write_table", write_then_fail)
    with pytest.raises(OSError):
        store(manager, "train_x", frame())

    assert listing(base) == []


def test_overwrite_replaces_the_file(base):
    manager = ParquetIOManager(base_path=base)
    store(manager, "train_x", frame())
    newer = frame().iloc[:1]

    store(manager, "train_x", newer)

    pd.testing.assert_frame_equal(load(manager, "train_x"), newer)
    assert listing(base) == ["train_x.parquet"]


# --- parquet metadata ----------------------------------------------------------------------


def test_get_metadata_for_a_frame(base):
    manager = ParquetIOManager(base_path=base)

    metadata = metadata_of(manager, "train_x", frame())

    assert metadata["dagster/row_count"] == IntMetadataValue(3)
    assert metadata["dagster/column_schema"] == TableSchemaMetadataValue(
        TableSchema(
            columns=[
                TableColumn(name="driver_id", type="int64"),
                TableColumn(name="event_timestamp", type="datetime64[ns, UTC]"),
                TableColumn(name="conv_rate", type="float32"),
                TableColumn(name="avg_daily_trips", type="float64"),
            ]
        )
    )


def test_get_metadata_for_a_series(base):
    manager = ParquetIOManager(base_path=base)
    series = pd.Series([1, 0], name="trip_completed", dtype=np.int64)

    metadata = metadata_of(manager, "train_y", series)

    assert metadata["dagster/row_count"].value == 2
    assert [(c.name, c.type) for c in metadata["dagster/column_schema"].schema.columns] == [
        ("trip_completed", "int64")
    ]


def test_handle_output_logs_path_and_metadata(base):
    manager = ParquetIOManager(base_path=base)

    logged = store(manager, "train_x", frame())
    assert logged["path"] == PathMetadataValue(str(base / "train_x.parquet"))
    assert logged["dagster/row_count"].value == 3
    assert [c.name for c in logged["dagster/column_schema"].schema.columns] == [
        "driver_id",
        "event_timestamp",
        "conv_rate",
        "avg_daily_trips",
    ]


# --- JSON ----------------------------------------------------------------------------------


def test_json_round_trips_a_dict(base):
    manager = JsonIOManager(base_path=base)
    record = {"run_id": "abc123", "metrics": {"rmse": 0.41, "r2": 0.12}, "features": ["a", "b"]}

    store(manager, "evaluation", record)

    path = base / "evaluation.json"
    assert listing(base) == ["evaluation.json"]
    assert json.loads(path.read_text()) == record
    assert load(manager, "evaluation") == record


def test_json_overwrite_replaces_the_record(base):
    manager = JsonIOManager(base_path=base)
    store(manager, "evaluation", {"version": 1})

    store(manager, "evaluation", {"version": 2})

    assert load(manager, "evaluation") == {"version": 2}
    assert listing(base) == ["evaluation.json"]


def test_json_rejects_unserialisable_record_and_keeps_the_old_one(base):
    manager = JsonIOManager(base_path=base)
    store(manager, "evaluation", {"version": 1})

    with pytest.raises(TypeError):
        store(manager, "evaluation", {"when": object()})

    assert load(manager, "evaluation") == {"version": 1}
    assert listing(base) == ["evaluation.json"]


def load_as(manager, name: str, typing_type):
    """Load asset `name` as an input annotated `typing_type`."""
    dagster_type = PythonObjectDagsterType(typing_type)
    with build_input_context(asset_key=AssetKey(name), dagster_type=dagster_type) as context:
        return manager.load_input(context)


def test_json_stores_a_record_as_its_fields_and_loads_it_as_the_annotated_type(base):
    manager = JsonIOManager(base_path=base)
    record = Evaluation(
        run_id="abc123",
        model_uri="models:/m-1",
        champion_version=None,
        rmse=0.41,
        mae=0.33,
        r2=0.12,
        baseline_rmse=0.5,
        test_rows=40,
    )

    store(manager, "evaluation", record)

    stored = json.loads((base / "evaluation.json").read_text())
    assert stored["rmse"] == 0.41 and stored["champion_version"] is None
    loaded = load_as(manager, "evaluation", Evaluation)
    assert isinstance(loaded, Evaluation) and loaded == record
    # A reader that does not say what it expects gets the fields.
    assert load(manager, "evaluation") == stored


def test_json_names_the_asset_and_field_a_stored_record_lacks(base):
    manager = JsonIOManager(base_path=base)
    # What an older version of the asset stored, read by code that expects another record.
    store(manager, "trained_model", {"run_id": "abc123", "model_uri": "models:/m-1"})

    with pytest.raises(ValueError) as raised:
        load_as(manager, "trained_model", TrainedModel)

    message = str(raised.value)
    assert "trained_model" in message and "not a TrainedModel record" in message
    assert "experiment_id: Field required" in message


# --- one folder per run ----------------------------------------------------------------------


def test_each_run_writes_its_own_folder_and_old_ones_are_pruned(tmp_path, instance, monkeypatch):
    from dagster import asset, materialize

    from training_assets.defs.resources import io_managers
    from training_assets.defs.resources.io_managers import JsonIOManagerResource

    monkeypatch.setattr(io_managers, "KEEP_FINISHED_SECONDS", 0)

    @asset(io_manager_key="json")
    def record() -> dict:
        return {"n": 1}

    @asset(io_manager_key="json")
    def reader(record: dict) -> dict:
        return {"read": record["n"]}

    resources = {"json": JsonIOManagerResource(base_path=str(tmp_path / "assets"))}
    runs = tmp_path / "assets" / "runs"
    first = materialize([record, reader], instance=instance, resources=resources)
    assert (runs / first.run_id / "record.json").exists()
    # Only the reader: it loads the record from the run that materialized it.
    second = materialize(
        [record, reader], instance=instance, resources=resources, selection=["reader"]
    )
    assert second.output_for_node("reader") == {"read": 1}
    assert not (runs / second.run_id / "record.json").exists()
    leftover = runs / first.run_id / ".record.json.0123.tmp"
    leftover.write_text("half")
    # Two more reader runs. When the last one writes, the first run's folder still holds
    # record's latest materialization, so it stays, without the temp file a crash would leave;
    # the second run's reader was superseded by the third's, so its folder goes.
    third = materialize(
        [reader, record], instance=instance, resources=resources, selection=["reader"]
    )
    fourth = materialize(
        [reader, record], instance=instance, resources=resources, selection=["reader"]
    )

    assert fourth.success
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        [first.run_id, third.run_id, fourth.run_id]
    )
    assert not leftover.exists()


def test_a_partitions_run_folder_stays_while_it_holds_that_days_latest(
    tmp_path, instance, monkeypatch
):
    """Each day is read from the run that made it: a later run of another day does not make
    the earlier day's folder prunable, a rerun of the same day does."""
    from dagster import DailyPartitionsDefinition, asset, materialize

    from training_assets.defs.resources import io_managers
    from training_assets.defs.resources.io_managers import JsonIOManagerResource

    monkeypatch.setattr(io_managers, "KEEP_FINISHED_SECONDS", 0)
    days = DailyPartitionsDefinition(start_date="2025-12-08")

    @asset(io_manager_key="json", partitions_def=days)
    def scored(context) -> dict:
        return {"day": context.partition_key}

    @asset(io_manager_key="json", partitions_def=days)
    def judged(scored: dict) -> dict:
        return {"judged": scored["day"]}

    resources = {"json": JsonIOManagerResource(base_path=str(tmp_path / "assets"))}
    runs = tmp_path / "assets" / "runs"
    first = materialize(
        [scored], instance=instance, resources=resources, partition_key="2025-12-10"
    )
    second = materialize(
        [scored], instance=instance, resources=resources, partition_key="2025-12-11"
    )
    again = materialize(
        [scored], instance=instance, resources=resources, partition_key="2025-12-11"
    )
    # Only the judgement of the 10th, after the 11th was made twice: it reads the 10th from
    # the first run, which is still there.
    reading = materialize(
        [scored, judged],
        instance=instance,
        resources=resources,
        partition_key="2025-12-10",
        selection=["judged"],
    )

    assert reading.output_for_node("judged") == {"judged": "2025-12-10"}
    assert (runs / first.run_id / "scored" / "2025-12-10.json").exists()
    assert not (runs / second.run_id).exists()
    assert (runs / again.run_id / "scored" / "2025-12-11.json").exists()


def test_staging_folders_of_runs_that_ended_are_removed(tmp_path, instance, monkeypatch):
    from dagster import asset, materialize

    from training_assets.core import paths
    from training_assets.defs.resources import io_managers
    from training_assets.defs.resources.io_managers import JsonIOManagerResource

    monkeypatch.setattr(io_managers, "KEEP_FINISHED_SECONDS", 0)

    @asset(io_manager_key="json")
    def record() -> dict:
        return {"n": 1}

    resources = {"json": JsonIOManagerResource(base_path=str(tmp_path / "assets"))}
    first = materialize([record], instance=instance, resources=resources)
    # What a run killed mid-write leaves: its half-written staged table.
    killed = paths.staged_output(first.run_id, "training_data.parquet")
    killed.write_bytes(b"PAR1 half")
    unknown = paths.staged_output("not-a-run-of-this-instance", "splits.parquet")
    unknown.write_bytes(b"PAR1 half")

    second = materialize([record], instance=instance, resources=resources)

    assert second.success
    assert not killed.parent.exists() and not unknown.parent.exists()
