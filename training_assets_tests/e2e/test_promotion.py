"""Manual promotion and rollback through the Dagster jobs a user launches from the UI, on the
real Feast repo, MLflow store and instance: with `promotion: manual`, a gated model waits as
@challenger and @champion moves only when promote_model_job runs; rollback_model_job moves it
back; champion_model records each state with its data version. With a signing key in the
code location's environment, versions are signed at registration, and a version forged with
MLflow's client is refused by number; each job does its one thing, and says why."""

import hashlib
import hmac
import json
import secrets

import mlflow
import mlflow.sklearn
from dagster import AssetKey, DagsterEventType
from sklearn.dummy import DummyRegressor

from training_assets.core.tracking.evidence import SIGNATURE_TAG, SIGNING_KEY_ENV
from training_assets.core.tracking.registry import LINEAGE_PREFIX
from training_assets.definitions import defs
from training_assets_tests.conftest import mlflow_pointed_at
from training_assets_tests.e2e.test_pipeline import MODEL_NAME, run_training

MANUAL = {"resources": {"model_registry": {"config": {"promotion": "manual"}}}}
KEY = secrets.token_hex(32)


def signed_by(key: str, version) -> bool:
    """Whether the version's signature tag is the HMAC of its fields, computed here."""
    fields = [MODEL_NAME, str(version.version), version.run_id, version.source, "passed"]
    expected = hmac.new(key.encode(), json.dumps(fields).encode(), hashlib.sha256).hexdigest()
    return version.tags.get(SIGNATURE_TAG) == expected


def failure_message(result) -> str:
    return next(
        event.step_failure_data.error.message
        for event in result.all_events
        if event.event_type == DagsterEventType.STEP_FAILURE
    )


def aliases(client) -> tuple[int, int]:
    return tuple(
        int(client.get_model_version_by_alias(MODEL_NAME, alias).version)
        for alias in ("champion", "challenger")
    )


def launch(instance, job_name: str, **config):
    job = defs.resolve_job_def(job_name)
    run_config = {"ops": {"champion_model": {"config": config}}} if config else None
    return job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)


def champion_data_version(instance) -> str:
    event = instance.get_latest_materialization_event(AssetKey("champion_model"))
    return event.asset_materialization.tags["dagster/data_version"]


def test_manual_promotion_waits_for_the_promote_job_and_rollback_undoes_it(
    working_area, instance, mlflow_client, monkeypatch
):
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    assert run_training(instance).success  # automatic: v1 is champion and challenger
    second = run_training(instance, MANUAL)

    assert second.success
    assert second.output_for_node("registered_model_version").version == 2
    assert aliases(mlflow_client) == (1, 2), "manual: the champion must not move by itself"
    reported = second.output_for_node("champion_model")
    assert (reported.version, reported.challenger_version) == (1, 2)
    assert not reported.moved_now
    assert champion_data_version(instance) == f"{MODEL_NAME}/1"
    assert all(
        signed_by(KEY, mlflow_client.get_model_version(MODEL_NAME, number)) for number in "12"
    )

    promoted = launch(instance, "promote_model_job", action="promote", reason="report read")

    assert promoted.success
    assert aliases(mlflow_client) == (2, 2)
    record = promoted.output_for_node("champion_model")
    assert record.moved_now and record.previous == "1"
    assert record.moved_by == f"promote_model_job run {promoted.run_id}"
    tags = mlflow_client.get_model_version(MODEL_NAME, "2").tags
    assert tags[f"{LINEAGE_PREFIX}champion.reason"] == "report read"
    assert champion_data_version(instance) == f"{MODEL_NAME}/2"

    rolled = launch(instance, "rollback_model_job", action="rollback", reason="bad canary")

    assert rolled.success
    assert aliases(mlflow_client) == (1, 2)
    assert rolled.output_for_node("champion_model").reason == "rollback from version 2: bad canary"
    history = (
        instance.get_latest_materialization_event(AssetKey("champion_model"))
        .asset_materialization.metadata["alias_history"]
        .value
    )
    assert "bad canary" in history and "report read" in history


def test_promoting_a_version_that_does_not_exist_fails_and_moves_nothing(
    working_area, instance, mlflow_client
):
    assert run_training(instance).success

    result = launch(instance, "promote_model_job", action="promote", version=7, reason="typo")

    assert not result.success
    assert f"{MODEL_NAME} has no version 7" in failure_message(result)
    assert aliases(mlflow_client) == (1, 1)


def test_a_version_forged_with_every_tag_of_a_gated_one_is_refused_by_number(
    working_area, instance, mlflow_client, monkeypatch
):
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    assert run_training(instance).success
    gated = mlflow_client.get_model_version(MODEL_NAME, "1")
    # A model nobody gated, its run given every tag of the gated run (the verdict and lineage
    # too), registered by hand with every tag of the gated version (the signature too).
    run = mlflow_client.create_run(mlflow_client.get_run(gated.run_id).info.experiment_id)
    with mlflow_pointed_at(mlflow_client.tracking_uri):
        with mlflow.start_run(run_id=run.info.run_id):
            model = DummyRegressor().fit([[0.0]], [1.0])
            uri = mlflow.sklearn.log_model(model, name="model").model_uri
            mlflow.set_tags(
                {
                    tag: value
                    for tag, value in mlflow_client.get_run(gated.run_id).data.tags.items()
                    if not tag.startswith("mlflow.")
                }
            )
        forged = mlflow.register_model(uri, MODEL_NAME, tags=dict(gated.tags)).version

    result = launch(
        instance, "promote_model_job", action="promote", version=int(forged), reason="looks fine"
    )

    assert not result.success
    message = failure_message(result)
    assert f"{MODEL_NAME} version {forged} was not registered by a gated training run" in message
    assert "signature: expected" in message and KEY not in message
    assert aliases(mlflow_client) == (1, 1)


def test_each_job_does_its_one_thing_and_a_move_says_why(working_area, instance, mlflow_client):
    assert run_training(instance).success
    assert run_training(instance, MANUAL).success
    assert aliases(mlflow_client) == (1, 2)

    refusals = [
        ("promote_model_job", {"action": "promote", "reason": ""}, "config.reason is ''"),
        ("rollback_model_job", {"action": "promote", "reason": "x"}, "asks for 'promote'"),
        ("promote_model_job", {"action": "rollback", "reason": "x"}, "asks for 'rollback'"),
        ("promote_model_job", {"action": "promote", "version": 2, "reason": "  "}, "reason is"),
        ("rollback_model_job", {"action": "rollback", "reason": "\t"}, "config.reason is"),
        (
            "promote_model_job",
            {"action": "promote", "version": 2, "from_version": 1, "reason": "x"},
            "from_version is 1, which only a rollback checks",
        ),
    ]
    for job_name, config, said in refusals:
        result = launch(instance, job_name, **config)
        assert not result.success, (job_name, config)
        assert said in failure_message(result) and "Nothing moved" in failure_message(result)
        assert aliases(mlflow_client) == (1, 2), (job_name, config)


def test_the_first_model_under_manual_promotion_waits_with_no_champion(
    working_area, instance, mlflow_client
):
    first = run_training(instance, MANUAL)

    assert first.success
    reported = first.output_for_node("champion_model")
    assert reported.version is None and reported.challenger_version == 1
    assert [
        a
        for v in mlflow_client.search_model_versions(f"name='{MODEL_NAME}'")
        for a in mlflow_client.get_model_version(MODEL_NAME, v.version).aliases
    ] == ["challenger"]

    assert launch(instance, "promote_model_job", action="promote", reason="first").success
    assert aliases(mlflow_client) == (1, 1)
