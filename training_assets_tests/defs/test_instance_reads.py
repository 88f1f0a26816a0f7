"""Reads of the Dagster instance outlast a PostgreSQL restart (defs/instance_reads.py): on a
PostgreSQL server of the test's own, restarted while a read waits on it; errors that no wait
mends are raised at once, and a server that stays down fails the read after its tries."""

import ast
import logging
import shutil
import threading
import time

import psycopg2
import pytest
import sqlalchemy.exc
from dagster import AssetKey, DagsterInstance, InMemoryIOManager, asset, materialize
from dagster._core.instance.ref import InstanceRef

from training_assets.core import paths
from training_assets.defs import instance_reads
from training_assets.defs.instance_reads import lost_connection, retried
from training_assets.defs.materializations import materialization_for
from training_assets_tests.services import private_postgres

KEY = AssetKey("training_data")


@pytest.fixture
def server_and_instance(tmp_path, monkeypatch):
    """A Dagster instance from deploy/dagster.yaml on a private PostgreSQL server."""
    with private_postgres() as server:
        server.create_database("dagster")
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(paths.PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", server.url("dagster"))
        with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            yield server, instance


def materialized(instance: DagsterInstance) -> str:
    """The id of a run that materialized KEY."""

    @asset(name=KEY.path[-1])
    def training_data() -> int:
        return 1

    result = materialize(
        [training_data], instance=instance, resources={"io_manager": InMemoryIOManager()}
    )
    return result.run_id


def connect(server, database="dagster"):
    return psycopg2.connect(host="127.0.0.1", port=server.port, user="postgres", dbname=database)


def waiting_on_a_lock(server) -> bool:
    with connect(server) as probe, probe.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


def retry_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == instance_reads.__name__]


@pytest.mark.services
def test_a_read_cut_off_by_a_restart_is_tried_again(server_and_instance, caplog):
    server, instance = server_and_instance
    run_id = materialized(instance)
    # The read waits on a lock of the event log until the restart ends its session: a
    # restart in the middle of a read, every time.
    holder = connect(server)
    holder.cursor().execute("LOCK TABLE event_logs IN ACCESS EXCLUSIVE MODE")
    outcome: dict = {}

    def read() -> None:
        try:
            outcome["event"] = materialization_for(instance, run_id, KEY)
        except Exception as error:
            outcome["error"] = error

    reader = threading.Thread(target=read)
    caplog.set_level(logging.WARNING, logger=instance_reads.__name__)
    reader.start()
    deadline = time.monotonic() + 60
    while not waiting_on_a_lock(server):
        assert reader.is_alive() and time.monotonic() < deadline, outcome
        time.sleep(0.1)
    server.restart()
    reader.join(timeout=120)
    holder.close()

    assert "error" not in outcome, outcome
    assert outcome["event"].run_id == run_id
    [warning] = retry_warnings(caplog)
    assert "lost database connection (OperationalError); try 2 of 3" in warning


# A bound on elapsed time: run on one worker, never beside another test with such a bound.
@pytest.mark.xdist_group("elapsed_time_bounds")
@pytest.mark.services
def test_an_error_that_no_wait_mends_is_raised_at_once(server_and_instance, caplog):
    server, instance = server_and_instance
    materialized(instance)
    with connect(server) as admin, admin.cursor() as cursor:
        cursor.execute("DROP TABLE event_logs CASCADE")
    caplog.set_level(logging.WARNING, logger=instance_reads.__name__)

    started = time.monotonic()
    with pytest.raises(sqlalchemy.exc.ProgrammingError, match="event_logs"):
        materialization_for(instance, "a-run", KEY)

    assert time.monotonic() - started < instance_reads.FIRST_WAIT_S
    assert retry_warnings(caplog) == []


@pytest.mark.services
def test_a_server_that_stays_down_fails_the_read_after_its_tries(server_and_instance, caplog):
    server, instance = server_and_instance
    server.stop()
    caplog.set_level(logging.WARNING, logger=instance_reads.__name__)
    tries = []

    def read():
        tries.append(time.monotonic())
        return instance.get_latest_materialization_event(KEY)

    with pytest.raises(Exception) as raised:
        retried(read, "the latest materialization", tries=2, first_wait_s=0.1)

    assert lost_connection(raised.value), raised.value
    assert len(tries) == 2
    assert len(retry_warnings(caplog)) == 1


def test_every_read_of_the_instance_in_defs_is_retried():
    """Each call of an instance method in defs/ is made inside `retried(...)`, apart from the
    writes that must not be repeated (a run reported failed twice would log it twice)."""
    not_repeated = {"report_run_failed"}
    unguarded = []
    for module in (paths.PROJECT_ROOT / "training_assets" / "defs").rglob("*.py"):
        tree = ast.parse(module.read_text())
        guarded = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "retried"
            for inner in ast.walk(node.args[0])
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and _names_an_instance(node.value)
                and node.attr not in not_repeated
                and id(node) not in guarded
            ):
                unguarded.append(f"{module.name}:{node.lineno} {node.attr}")

    assert unguarded == []


def _names_an_instance(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "instance") or (
        isinstance(node, ast.Attribute) and node.attr == "instance"
    )
