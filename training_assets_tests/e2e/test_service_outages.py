"""Feast's services on the production profile (deploy/feast/feature_store.yaml) when they
stop answering or refuse: a read fails within the profile's timeouts instead of hanging, and a
step that meets an outage is tried again, then fails with the service's own error. An MLflow
server that goes away at the end of a run: the run's own error is the last printed, the process
exits within a minute, and the dead-run sensor heals what was left open once it is back.

"Stops answering" is a listener on 127.0.0.1 that accepts connections and never replies: what
a hung server or a dropped network looks like from the client.
"""

import socket
import threading
import time
from contextlib import contextmanager

import mlflow
import pytest
import redis
import sqlalchemy.exc
from dagster import AssetKey, DagsterEventType, DagsterRunStatus, build_sensor_context

from training_assets.core import paths
from training_assets.core.schema import FEATURE_SERVICE
from training_assets.core.tracking.registry import PENDING, REGISTRATION_TAG
from training_assets.definitions import defs
from training_assets.defs.automation.sensors import dead_run_sensor
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets_tests.e2e.cli import cli_run, finish, open_instance
from training_assets_tests.e2e.servers import free_port, mlflow_server
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


class OutageRelay:
    """A relay on 127.0.0.1 to a real server's `port` that becomes an outage once a request
    naming `trigger` has been answered with success: from then on no request is relayed, and
    each gets no answer at all (`hang`: a hung server, a dropped network) or its connection
    closed (`refuse`: a server that went away). The trigger's own answer still comes back."""

    def __init__(self, port: int, trigger: bytes, mode: str):
        self.port, self.trigger, self.mode = port, trigger, mode
        self.tripped_at: float | None = None
        # The connection that carried the trigger: the outage begins as its answer comes back,
        # not when the trigger is seen, since a request's body may follow its headers in a
        # later packet, which the outage would otherwise swallow.
        self._trigger_client: socket.socket | None = None
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(32)
        self._listener.settimeout(0.2)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> "OutageRelay":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for connection in [self._listener, *self._sockets]:
            connection.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client = self._listener.accept()[0]
            except OSError:
                continue
            self._sockets.append(client)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream = None
        try:
            while data := client.recv(65536):
                if self.tripped_at is not None:
                    if self.mode == "refuse":
                        break
                    continue  # read and never answered
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.port))
                    self._sockets.append(upstream)
                    threading.Thread(
                        target=self._back, args=(upstream, client), daemon=True
                    ).start()
                upstream.sendall(data)
                # The latest connection to carry the trigger: a request the server failed
                # (a busy store's 5xx) is sent again, and only its success is the trigger.
                if self.trigger in data:
                    self._trigger_client = client
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    def _back(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
                # A response's first packet starts with its status line: the outage begins
                # as the trigger succeeds, so the server holds what the trigger asked for.
                answered = data.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2"))
                if client is self._trigger_client and answered and self.tripped_at is None:
                    self.tripped_at = time.monotonic()
        except OSError:
            pass


@contextmanager
def outage_relay(port: int, trigger: bytes, mode: str):
    relay = OutageRelay(port, trigger, mode).start()
    try:
        yield relay
    finally:
        relay.stop()


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


MODEL_NAME = "sklearn-elastic-net-reg"
# The bound: the process ends within a minute of the outage.
EXIT_WITHIN_S = 60
# A server that never answers costs the step its whole HTTP budget: a smaller one than the
# default, set by run config as a user would, keeps the wait short (the default's is bounded
# in test_the_default_http_budget_fails_a_step_within_the_bound).
SHORT_BUDGET = {
    "resources": {"mlflow_store": {"config": {"request_timeout_seconds": 3, "max_retries": 1}}}
}


def worst_case_s(timeout_s: int, retries: int, backoff_factor: float = 1.0) -> float:
    """The longest a request to a server that never answers can take under MLflow's budget:
    every try times out, with urllib3's backoff (factor x 2^(n-1), none before the first
    retry) between them."""
    backoffs = sum(backoff_factor * 2 ** (n - 1) for n in range(2, retries + 1))
    return timeout_s * (retries + 1) + backoffs


def test_the_default_http_budget_fails_a_step_within_the_bound():
    store = MlflowStore()
    # One hung request per MLflow call the failing step makes before it gives up.
    assert worst_case_s(store.request_timeout_seconds, store.max_retries) < EXIT_WITHIN_S / 1.5


# A bound on elapsed time: run on one worker, never beside another test with such a bound.
@pytest.mark.xdist_group("elapsed_time_bounds")
@pytest.mark.parametrize("outage", ["hang", "refuse"])
def test_an_mlflow_outage_at_registration_is_the_last_word_exits_soon_and_heals(
    working_area, home, tmp_path, outage
):
    # The outage begins as the new version is created: the last MLflow step of the run.
    trigger = b"/api/2.0/mlflow/model-versions/create"
    with (
        mlflow_server(tmp_path / "mlflow_server") as server,
        outage_relay(server.port, trigger, outage) as relay,
    ):
        process, log = cli_run(
            working_area,
            home,
            "outage",
            {"MLFLOW_TRACKING_URI": relay.uri},
            config=SHORT_BUDGET if outage == "hang" else None,
        )
        code = finish(process, log)
        exited = time.monotonic()
        text = log.read_text()
        assert relay.tripped_at is not None, text[-3000:]
        took = exited - relay.tripped_at

        assert code != 0
        assert took < EXIT_WITHIN_S, f"exited {took:.0f}s after the outage\n{text[-3000:]}"
        # The run's failure, naming the step and the server, is the last error printed; no
        # claim that MLflow failed to start a run that had started.
        assert "failed to start this run" not in text
        errors = [line for line in text.splitlines() if " - ERROR - " in line]
        assert "RUN_FAILURE" in errors[-1], errors[-3:]
        last_word = text[text.rindex(" - RUN_FAILURE - ") :]
        assert 'op "registered_model_version"' in last_word
        assert relay.uri.removeprefix("http://") in last_word
        assert "stays RUNNING until the dead-run sensor" in text

        # The server answers again (straight, not through the relay): the sensor's tick ends
        # the MLflow run the outage left RUNNING and removes the version it left pending.
        client = mlflow.MlflowClient(tracking_uri=server.uri)
        [left] = client.search_runs(
            [client.get_experiment_by_name("driver-trip-completion").experiment_id]
        )
        assert left.info.status == "RUNNING"
        versions = client.search_model_versions(f"name='{MODEL_NAME}'")
        assert len(versions) == 1, text[-8000:]
        [pending] = versions
        assert pending.tags[REGISTRATION_TAG] == PENDING
        instance = open_instance(home)
        [run] = instance.get_runs()
        assert run.status == DagsterRunStatus.FAILURE
        resources = {
            "mlflow_store": MlflowStore(tracking_uri=server.uri),
            "model_registry": ModelRegistry(),
        }
        with build_sensor_context(instance=instance, resources=resources) as context:
            dead_run_sensor(context)

        assert client.get_run(left.info.run_id).info.status == "FAILED"
        assert client.search_model_versions(f"name='{MODEL_NAME}'") == []
