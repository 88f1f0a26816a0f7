"""PostgreSQL and Redis on 127.0.0.1 for the production-profile tests: a database and a Redis
database index of the test's own, removed afterwards.

On a machine without the services the tests skip, saying which service is missing and how to
start it; with TRAINING_ASSETS_REQUIRE_SERVICES=1 (CI) they fail instead.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RABBITMQ_HOST, RABBITMQ_PORT = "127.0.0.1", 5672
# RabbitMQ's own default account, which only accepts connections from the local machine.
RABBITMQ_USER = "guest"


def _unavailable(message: str) -> None:
    if os.environ.get("TRAINING_ASSETS_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def postgres_database(prefix: str = "ta") -> Iterator[str]:
    """A new database on the local PostgreSQL; yields its name, drops it afterwards."""
    import psycopg2

    try:
        admin = psycopg2.connect(connect_timeout=3, **POSTGRES)
    except psycopg2.OperationalError as error:
        _unavailable(
            f"PostgreSQL is not reachable on 127.0.0.1:5432 as user postgres ({error}); start "
            "it (e.g. `pg_ctlcluster 15 main start`) with trust auth for local connections"
        )
    admin.autocommit = True
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def postgres_url(database: str, password: str | None = None) -> str:
    secret = f":{password}" if password else ""
    return f"postgresql+psycopg2://postgres{secret}@127.0.0.1:5432/{database}"


@contextmanager
def redis_database() -> Iterator[int]:
    """An empty Redis database index of this test's own; yields it, empties it afterwards."""
    import redis

    probe = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3)
    try:
        probe.ping()
    except redis.exceptions.ConnectionError as error:
        _unavailable(
            f"Redis is not reachable on 127.0.0.1:6379 ({error}); start it "
            "(e.g. `redis-server --daemonize yes`)"
        )
    for index in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index)
        if client.dbsize() == 0 and client.set("training_assets:claim", "1", nx=True):
            client.delete("training_assets:claim")
            try:
                yield index
            finally:
                client.flushdb()
            return
    _unavailable("no empty Redis database index between 1 and 15 on 127.0.0.1:6379")


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A virtual host of the test's own on the local RabbitMQ, so that no queue of anyone else
    is read or purged; yields its AMQP URL and deletes it afterwards."""
    import shutil
    import subprocess

    from kombu import Connection

    probe = f"amqp://{RABBITMQ_USER}:{RABBITMQ_USER}@{RABBITMQ_HOST}:{RABBITMQ_PORT}//"
    try:
        with Connection(probe, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:  # kombu wraps socket and AMQP errors alike
        _unavailable(
            f"RabbitMQ is not reachable on 127.0.0.1:5672 as guest ({error}); start it "
            "(e.g. `service rabbitmq-server start`)"
        )
    control = shutil.which("rabbitmqctl")
    if control is None:
        _unavailable("rabbitmqctl is not on PATH; it makes and removes the test's virtual host")
    vhost = f"ta_{uuid.uuid4().hex[:12]}"

    def ctl(*args: str) -> None:
        subprocess.run([control, *args], check=True, capture_output=True, timeout=60)

    try:
        ctl("add_vhost", vhost)
    except subprocess.CalledProcessError as error:
        _unavailable(f"rabbitmqctl add_vhost failed: {error.stderr.decode(errors='replace')}")
    try:
        ctl("set_permissions", "-p", vhost, RABBITMQ_USER, ".*", ".*", ".*")
        yield f"amqp://{RABBITMQ_USER}:{RABBITMQ_USER}@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{vhost}"
    finally:
        ctl("delete_vhost", vhost)
