"""Feast's services on the production profile (deploy/feast/feature_store.yaml) when they
stop answering or refuse: a read fails within the profile's timeouts instead of hanging, and a
step that meets an outage is tried again, then fails with the service's own error.

"Stops answering" is a listener on 127.0.0.1 that accepts connections and never replies: what
a hung server or a dropped network looks like from the client.
"""

import socket
import threading
import time
from contextlib import contextmanager

import pytest
import redis
import sqlalchemy.exc
from dagster import AssetKey, DagsterEventType

from training_assets.core import paths
from training_assets.core.schema import FEATURE_SERVICE
from training_assets.definitions import defs
from training_assets.defs.resources.feast import FeastResource
from training_assets_tests.e2e.servers import free_port
from training_assets_tests.services import postgres_database, postgres_url

pytestmark = [pytest.mark.services, pytest.mark.slow]

DEPLOY_FEAST = paths.PROJECT_ROOT / "deploy" / "feast" / "feature_store.yaml"
# Longer than the profile's timeouts with redis-py's retries, far shorter than "forever".
BOUND_S = 120


@contextmanager
def silent_server():
    """A TCP port on 127.0.0.1 that accepts connections and never answers; yields the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def outcome_within(call, seconds: float) -> tuple[BaseException | None, float]:
    """Run `call` in a thread; its exception (or None) and its duration, failing the test if
    it has not returned within `seconds`."""
    result: dict = {}

    def run():
        started = time.monotonic()
        try:
            call()
        except BaseException as error:  # handed to the test to judge
            result["error"] = error
        result["took"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    if thread.is_alive():
        pytest.fail(f"still waiting for the service after {seconds}s: no timeout applies")
    return result.get("error"), result["took"]


@pytest.fixture
def profile(working_area, monkeypatch):
    """The production Feast profile with a real registry database."""
    with postgres_database("feast") as registry:
        monkeypatch.setenv("FEAST_FS_YAML_FILE_PATH", str(DEPLOY_FEAST))
        monkeypatch.setenv("FEAST_REGISTRY_URL", postgres_url(registry))
        yield monkeypatch


def test_an_online_read_from_a_redis_that_stopped_answering_times_out(profile):
    with silent_server() as port:
        profile.setenv("FEAST_REDIS_CONNECTION", f"127.0.0.1:{port},db=0")
        feast = FeastResource()
        feast.apply()
        store = feast.store()

        error, took = outcome_within(
            lambda: store.get_online_features(
                features=store.get_feature_service(FEATURE_SERVICE),
                entity_rows=[{"driver_id": 1001}],
            ),
            BOUND_S,
        )

    assert isinstance(error, redis.exceptions.TimeoutError), error
    assert isinstance(error, feast_outage_errors())
    assert took >= 2  # the profile's socket timeout, not an immediate refusal


def test_a_registry_database_that_never_answers_times_out(profile):
    with silent_server() as port:
        profile.setenv("FEAST_REGISTRY_URL", f"postgresql+psycopg2://postgres@127.0.0.1:{port}/x")
        profile.setenv("FEAST_REDIS_CONNECTION", "127.0.0.1:6379,db=0")

        error, took = outcome_within(lambda: FeastResource().apply(), BOUND_S)

    assert isinstance(error, sqlalchemy.exc.OperationalError), error
    assert "timeout" in str(error).lower()
    assert took >= 9  # connect_timeout: 10


def test_a_step_that_meets_a_refusing_redis_is_retried_then_fails_with_its_error(profile, instance):
    closed = free_port()  # nothing listens here: every connection is refused
    profile.setenv("FEAST_REDIS_CONNECTION", f"127.0.0.1:{closed},db=0")
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={AssetKey("feature_store"), AssetKey("online_features")}
    )

    result = job.execute_in_process(
        instance=instance,
        run_config={
            "resources": {"feast": {"config": {"service_retries": 1, "service_retry_wait_s": 0}}}
        },
        raise_on_error=False,
    )

    assert not result.success
    events = result.events_for_node("online_features")
    kinds = [event.event_type for event in events]
    assert kinds.count(DagsterEventType.STEP_UP_FOR_RETRY) == 1
    assert kinds.count(DagsterEventType.STEP_RESTARTED) == 1
    failure = next(e for e in events if e.event_type == DagsterEventType.STEP_FAILURE)
    text = str(failure.step_failure_data.error.to_string())
    assert "ConnectionError" in text and str(closed) in text
    # The registry step, which needs no Redis, ran once and succeeded.
    assert result.events_for_node("feature_store")[-1].event_type == DagsterEventType.STEP_SUCCESS


def feast_outage_errors():
    from training_assets.core.features.feast_repo import service_outage_errors

    return service_outage_errors()
