"""The production profile in deploy/ on real services, with nothing in code edited: Dagster on
PostgreSQL, an MLflow server on PostgreSQL, Feast's SQL registry on PostgreSQL and a Redis
online store. Each test makes its own databases and removes them."""

import shutil

import mlflow
import numpy as np
import pandas as pd
import psycopg2
import pytest
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from training_assets.core import paths
from training_assets.definitions import defs
from training_assets.defs.resources.feast import FeastResource
from training_assets_tests.core.features.test_materialize import joined_after_newest_row, online
from training_assets_tests.e2e.servers import dagster_dev, mlflow_server
from training_assets_tests.services import (
    POSTGRES,
    postgres_database,
    postgres_url,
    redis_database,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

DEPLOY = paths.PROJECT_ROOT / "deploy"
MODEL_NAME = "sklearn-elastic-net-reg"
# Trust auth accepts any password, so the URLs can carry one to look for afterwards.
SECRET = "pr0file-Secret"


@pytest.fixture
def feast_on_services(working_area, monkeypatch):
    """Feast from deploy/feast/feature_store.yaml: a SQL registry database and a Redis index."""
    with postgres_database("feast") as registry, redis_database() as index:
        monkeypatch.setenv("FEAST_FS_YAML_FILE_PATH", str(DEPLOY / "feast" / "feature_store.yaml"))
        monkeypatch.setenv("FEAST_REGISTRY_URL", postgres_url(registry, SECRET))
        monkeypatch.setenv("FEAST_REDIS_CONNECTION", f"127.0.0.1:6379,db={index}")
        yield registry


@pytest.fixture
def dagster_on_postgres(tmp_path, monkeypatch):
    with postgres_database("dagster") as database:
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", postgres_url(database, SECRET))
        with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            yield instance, database


def tables(database: str) -> set[str]:
    with psycopg2.connect(**{**POSTGRES, "dbname": database}) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return {row[0] for row in cursor.fetchall()}


def rows_mentioning(database: str, table: str, text: str) -> int:
    with psycopg2.connect(**{**POSTGRES, "dbname": database}) as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE CAST({table} AS text) LIKE %s", (f"%{text}%",)
            )
            return cursor.fetchone()[0]


def test_training_twice_on_the_production_profile(
    feast_on_services, dagster_on_postgres, tmp_path, monkeypatch
):
    instance, dagster_database = dagster_on_postgres
    with (
        postgres_database("mlflow") as mlflow_database,
        mlflow_server(
            tmp_path / "mlflow", backend_store_uri=postgres_url(mlflow_database)
        ) as server,
    ):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
        job = defs.resolve_job_def("training_job")
        first = job.execute_in_process(instance=instance)
        second = job.execute_in_process(
            instance=instance, run_config={"ops": {"trained_model": {"config": {"alpha": 0.45}}}}
        )

        assert first.success and second.success
        client = mlflow.MlflowClient(tracking_uri=server.uri)
        versions = sorted(
            int(v.version) for v in client.search_model_versions(f"name='{MODEL_NAME}'")
        )
        assert versions == [1, 2]
        assert int(client.get_model_version_by_alias(MODEL_NAME, "champion").version) == 2
        assert {"registered_models", "model_versions"} <= tables(mlflow_database)

    # The registry lives in PostgreSQL, and no output or event names its password.
    assert {"feature_views", "feature_services"} <= tables(feast_on_services)
    applied = paths.default_io_dir() / "runs" / second.run_id / "feature_store.json"
    assert SECRET not in applied.read_text()
    assert rows_mentioning(dagster_database, "event_logs", SECRET) == 0
    assert {"runs", "event_logs"} <= tables(dagster_database)


def test_the_redis_online_store_serves_what_was_written(feast_on_services):
    feast = FeastResource()
    feast.apply()
    store = feast.store()
    assert store.config.online_store.type == "redis"
    rows = pd.DataFrame(
        {
            "driver_id": np.array([7001, 7002], dtype=np.int64),
            "datetime": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 11:00"], utc=True),
            "created": pd.to_datetime(["2026-01-01 10:05", "2026-01-01 11:05"], utc=True),
            "conv_rate": np.array([0.25, 0.75], dtype=np.float32),
            "acc_rate": np.array([0.5, 0.125], dtype=np.float32),
            "avg_daily_trips": np.array([12, 30], dtype=np.int32),
        }
    )

    store.write_to_online_store("driver_stats", rows)
    online = store.get_online_features(
        features=store.get_feature_service(feast.feature_service),
        entity_rows=[{"driver_id": 7001}, {"driver_id": 7002}],
    ).to_df()

    assert online["conv_rate"].tolist() == [0.25, 0.75]
    assert online["avg_daily_trips"].tolist() == [12, 30]


def test_materialized_redis_features_equal_the_training_join_after_the_newest_row(
    feast_on_services,
):
    feast = FeastResource()
    feast.apply()

    [loaded] = feast.materialize_online()

    store = feast.store()
    assert store.config.online_store.type == "redis"
    assert loaded["how"] == "initial"
    expected = joined_after_newest_row(store, feast.resolved_driver_stats_path())
    served = online(store, expected.index)
    assert not served.isna().any().any()
    pd.testing.assert_frame_equal(served, expected, check_dtype=False)
    [again] = feast.materialize_online()
    assert again["how"] == "up to date"


def test_the_daemon_on_postgres_queues_a_second_training_behind_the_first(
    working_area, tmp_path, monkeypatch
):
    from dagster_graphql import DagsterGraphQLClient

    with postgres_database("dagster") as database:
        environment = {"DAGSTER_POSTGRES_URL": postgres_url(database, SECRET)}
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", environment["DAGSTER_POSTGRES_URL"])
        with dagster_dev(
            working_area, tmp_path, environment, instance_config=DEPLOY / "dagster.yaml"
        ) as server:
            client = DagsterGraphQLClient("127.0.0.1", port_number=server.port)
            # The queue is first in, first out: the default model, then a better one (as in
            # test_training_twice_on_the_production_profile), so both pass the champion gates.
            submitted = [
                client.submit_job_execution("training_job", run_config=config)
                for config in ({}, {"ops": {"trained_model": {"config": {"alpha": 0.45}}}})
            ]
            with server.instance() as instance:
                statuses = wait_for_runs(instance, submitted, server.log_tail)
                records = {r.dagster_run.run_id: r for r in instance.get_run_records()}
        assert "runs" in tables(database)

    assert statuses == ["SUCCESS", "SUCCESS"], server.log_tail()
    first, second = sorted((records[run_id] for run_id in submitted), key=lambda r: r.start_time)
    # Both were submitted at once; the serial limit held the second in the queue until the
    # first was over.
    assert second.create_timestamp.timestamp() < first.end_time
    assert second.start_time >= first.end_time


def wait_for_runs(instance, run_ids, log_tail, timeout_s=600) -> list[str]:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
        if all(run.is_finished for run in runs):
            return [run.status.value for run in runs]
        time.sleep(2)
    pytest.fail(f"runs not finished after {timeout_s}s:\n{log_tail()}")
