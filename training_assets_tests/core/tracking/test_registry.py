"""The champion lookup and registration on real MLflow stores: no model and no alias mean no
champion; a failing server is an error, never "no champion"."""

import http.server
import os
import threading

import mlflow
import mlflow.sklearn
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from sklearn.dummy import DummyRegressor

from training_assets.core.tracking.lineage import LINEAGE_PREFIX, REPRODUCIBILITY_KEYS
from training_assets.core.tracking.model_log import log_sklearn_model
from training_assets.core.tracking.registry import (
    COMPLETE,
    PENDING,
    REGISTRATION_TAG,
    UNCHANGED,
    ChampionMoved,
    champion_version,
    finish_or_remove_pending,
    register_model,
    register_with_alias,
    registered_version,
)
from training_assets_tests.conftest import copy_empty_mlflow_db


def test_no_model_and_no_alias_mean_no_champion(tmp_path):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")

    assert champion_version(client, "model", "champion") is None
    client.create_registered_model("model")
    assert champion_version(client, "model", "champion") is None


class _AliasSetMeanwhile(mlflow.MlflowClient):
    """A client between whose two reads of a missing alias another run sets it: the store's
    own answers, in the order two runs registering at once can get them."""

    def get_registered_model(self, name):
        mlflow.MlflowClient(tracking_uri=self.tracking_uri).set_registered_model_alias(
            name, "champion", "1"
        )
        return super().get_registered_model(name)


def test_an_alias_set_by_another_run_between_the_reads_is_read_as_it_is_now(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    mlflow.MlflowClient(tracking_uri=uri).create_registered_model("model")
    mlflow.MlflowClient(tracking_uri=uri).create_model_version("model", (tmp_path / "x").as_uri())

    found = champion_version(_AliasSetMeanwhile(tracking_uri=uri), "model", "champion")

    assert found is not None and int(found.version) == 1


class _Failing(http.server.BaseHTTPRequestHandler):
    """A tracking server that answers every request with a server error."""

    def do_GET(self):  # noqa: N802 (the handler's protocol)
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "down"}')

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def failing_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_error_fails_closed(failing_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    client = mlflow.MlflowClient(tracking_uri=failing_server, registry_uri=failing_server)

    with pytest.raises(MlflowException):
        champion_version(client, "model", "champion")


# --- registration on a real sqlite store ---------------------------------------------------


def test_registration_refuses_when_the_champion_moved_since_the_gates(store):
    client, logged = store
    first_run, first_uri = logged()
    second_run, second_uri = logged()
    register_with_alias(
        client, "m", "champion", first_uri, first_run, expected_champion=None, signing_key=None
    )

    with pytest.raises(ChampionMoved, match="is version 1 now, but this run's gates compared"):
        register_with_alias(
            client,
            "m",
            "champion",
            second_uri,
            second_run,
            expected_champion=None,
            signing_key=None,
        )

    assert [int(v.version) for v in client.search_model_versions("name='m'")] == [1]


def test_half_made_versions_are_finished_removed_or_left_to_their_running_registration(store):
    client, logged = store
    client.create_registered_model("m")

    def pending(status: str) -> int:
        run_id, uri = logged(status)
        version = mlflow.register_model(uri, "m", tags={REGISTRATION_TAG: PENDING})
        return int(version.version)

    dead, aliased, in_progress = pending("FAILED"), pending("FAILED"), pending("RUNNING")
    client.set_registered_model_alias("m", "champion", aliased)

    done = finish_or_remove_pending(client, "m", "champion")

    assert done == {"finished": [aliased], "removed": [dead]}
    left = {
        int(v.version): v.tags[REGISTRATION_TAG] for v in client.search_model_versions("name='m'")
    }
    assert left == {aliased: COMPLETE, in_progress: PENDING}


def test_a_model_name_with_a_quote_is_refused_before_the_registry_is_asked(store):
    client, logged = store
    run_id, uri = logged()

    with pytest.raises(ValueError, match=r"model name \"m'x\" must be letters"):
        register_with_alias(client, "m'x", "champion", uri, run_id, signing_key=None)


def test_a_model_of_the_champions_or_the_challengers_lineage_registers_nothing(store):
    """As the docs say: `unchanged` when data, code and config equal those of the champion
    or of the challenger (a version awaiting manual promotion), which is the same model."""
    client, logged = store

    def run_of(lineage: str) -> tuple[str, str]:
        """A logged model's URI and run, tagged with `lineage`'s data, code and config."""
        run_id, uri = logged()
        for key in REPRODUCIBILITY_KEYS:
            client.set_tag(run_id, f"{LINEAGE_PREFIX}{key}", f"{lineage}-{key}")
        return uri, run_id

    aliases = {"challenger_alias": "challenger", "signing_key": None}
    register_with_alias(client, "m", "champion", *run_of("a"), **aliases)
    # Manual promotion: the second model waits as the challenger.
    register_with_alias(client, "m", "champion", *run_of("b"), move_champion=False, **aliases)

    as_champion, outcome_a = register_with_alias(client, "m", "champion", *run_of("a"), **aliases)
    as_challenger, outcome_b = register_with_alias(client, "m", "champion", *run_of("b"), **aliases)

    assert (int(as_champion.version), outcome_a) == (1, UNCHANGED)
    assert (int(as_challenger.version), outcome_b) == (2, UNCHANGED)
    assert len(client.search_model_versions("name='m'")) == 2
    assert int(client.get_model_version_by_alias("m", "champion").version) == 1
    assert int(client.get_model_version_by_alias("m", "challenger").version) == 2


def logged_model_store(tmp_path, empty_mlflow_db) -> tuple[mlflow.MlflowClient, str]:
    """A client on a sqlite store of its own (nothing process-wide pointed at it) and the URI
    of a model logged there by a run."""
    copy_empty_mlflow_db(empty_mlflow_db, tmp_path / "own.db")
    uri = f"sqlite:///{tmp_path / 'own.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())
    run = client.create_run(experiment)
    model = DummyRegressor().fit([[0.0], [1.0]], [0.0, 1.0])
    return client, log_sklearn_model(client, run.info.run_id, model, pd.DataFrame({"x": [0.0]}))


@pytest.mark.parametrize("variable", [None, "http://127.0.0.1:9"])
def test_registering_leaves_mlflows_tracking_uri_to_the_variable(
    tmp_path, empty_mlflow_db, monkeypatch, variable
):
    mlflow.set_tracking_uri(None)
    client, info = logged_model_store(tmp_path, empty_mlflow_db)
    if variable is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", variable)

    version = register_model(client, info.model_uri, "m", {})

    assert version.source == info.model_uri
    assert os.environ.get("MLFLOW_TRACKING_URI") == variable
    # Left to the variable: a later value of it is obeyed.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:10")
    assert mlflow.get_tracking_uri() == "http://127.0.0.1:10"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert not mlflow.is_tracking_uri_set()


def test_registering_puts_back_a_tracking_uri_set_in_code(tmp_path, empty_mlflow_db):
    client, info = logged_model_store(tmp_path, empty_mlflow_db)
    mlflow.set_tracking_uri("http://127.0.0.1:9")
    try:
        version = register_model(client, info.model_uri, "m", {})
        assert mlflow.get_tracking_uri() == "http://127.0.0.1:9"
        assert os.environ["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:9"
    finally:
        mlflow.set_tracking_uri(None)
    assert version.source == info.model_uri


def registered(client, logged, count: int) -> str:
    """`count` versions of model "m" registered with no alias left on them; the last run id."""
    for _ in range(count):
        run_id, uri = logged()
        register_with_alias(
            client, "m", "challenger", uri, run_id, expected_champion=None, signing_key=None
        )
        client.delete_registered_model_alias("m", "challenger")
    return run_id


def test_a_models_uri_names_the_version_its_alias_points_at_now(store):
    client, logged = store
    run_id = registered(client, logged, 2)
    client.set_registered_model_alias("m", "champion", "2")

    assert registered_version(client, "models:/m@champion") == ("m", 2)
    assert registered_version(client, "models:/m/1") == ("m", 1)
    # Not a registered version: scored, never logged as one.
    assert registered_version(client, f"runs:/{run_id}/model") is None
    assert registered_version(client, "models:/m/latest") is None
    with pytest.raises(MlflowException):
        registered_version(client, "models:/m@nobody")


def test_a_rollback_asked_for_two_versions_moves_nothing_once_either_has_changed(store):
    from training_assets.core.tracking.registry import PromotionRefused, move_alias, rollback

    client, logged = store
    registered(client, logged, 3)
    move_alias(client, "m", "champion", 1, "test", "first")
    move_alias(client, "m", "champion", 2, "test", "second")  # version 2 replaced version 1

    with pytest.raises(PromotionRefused, match="is version 2 now, not version 3"):
        rollback(client, "m", "champion", "test", "stale", signing_key=None, from_version=3)
    with pytest.raises(PromotionRefused, match="replaced version 1, not version 3"):
        rollback(client, "m", "champion", "test", "stale", signing_key=None, to_version=3)
    assert int(client.get_model_version_by_alias("m", "champion").version) == 2
