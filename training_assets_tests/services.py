"""PostgreSQL and Redis on 127.0.0.1 for the production-profile tests: a database and a Redis
database index of the test's own, removed afterwards.

On a machine without the services the tests skip, saying which service is missing and how to
start it; with TRAINING_ASSETS_REQUIRE_SERVICES=1 (CI) they fail instead.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RABBITMQ_HOST, RABBITMQ_PORT = "127.0.0.1", 5672
# RabbitMQ's own default account, which only accepts connections from the local machine.
RABBITMQ_USER = "guest"
CLAIM_KEY = "training_assets:claim"


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


class PrivatePostgres:
    """A PostgreSQL server of the test's own, to stop and restart: a data directory in a new
    temporary folder, a free port on 127.0.0.1, trust auth for the `postgres` user. It runs as
    the machine's `postgres` user when the tests run as root (initdb refuses root)."""

    def __init__(self) -> None:
        import shutil
        import socket
        import tempfile

        pg_ctl = shutil.which("pg_ctl")
        if pg_ctl is None:
            _unavailable("pg_ctl is not on PATH; install PostgreSQL's server binaries")
        self.bin = Path(pg_ctl).resolve().parent
        self.root = Path(tempfile.mkdtemp(prefix="ta_pg_"))
        self.data = self.root / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._as = []
        if os.geteuid() == 0:
            import pwd

            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql+psycopg2://postgres{secret}@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        import subprocess

        command = [*self._as, str(self.bin / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} {args[0]} failed: {done.stdout}{done.stderr}{tail}")

    def _ctl(self, action: str, *args: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        log = str(self.root / "server.log")
        self._run("pg_ctl", action, "-w", "-D", str(self.data), "-l", log, "-o", options, *args)

    def start(self) -> "PrivatePostgres":
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust")
        self._ctl("start")
        return self

    def stop(self) -> None:
        """Stop the server (pg_ctl signals the postmaster of this data directory only)."""
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """Stop the server, ending every session (their queries fail), and start it again."""
        self._ctl("restart", "-m", "fast")

    def create_database(self, name: str) -> None:
        import psycopg2

        admin = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres")
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()

    def remove(self) -> None:
        import shutil

        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started PrivatePostgres; stopped and its folder removed afterwards."""
    server = PrivatePostgres()
    try:
        yield server.start()
    finally:
        server.remove()


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
        # The claim key stays until the test ends: a test on another worker or checkout that
        # looks at this index meanwhile finds it taken, even before the test writes to it.
        if client.dbsize() == 0 and client.set(CLAIM_KEY, "1", nx=True):
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
