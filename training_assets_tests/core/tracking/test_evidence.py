"""Forged registry states, made as anyone with write access to the registry can make them (with
MLflow's own client), on a real sqlite store: none of them becomes @champion, by promotion or
by rollback, and each is refused by number with the evidence it lacks. Versions that gated runs
registered, signed or not, still move."""

import hashlib
import hmac
import json
import secrets
import uuid

import mlflow
import pytest

from training_assets.core.tracking import evidence
from training_assets.core.tracking.evidence import SIGNATURE_TAG, VERDICT_TAG
from training_assets.core.tracking.registry import (
    ALREADY_REGISTERED,
    COMPLETE,
    LINEAGE_PREFIX,
    PENDING,
    REGISTRATION_TAG,
    PromotionRefused,
    champion_version,
    promote,
    register_with_alias,
    rollback,
)

KEY = secrets.token_hex(32).encode()
OTHER_KEY = secrets.token_hex(32).encode()


def trained(client, logged) -> tuple[str, str]:
    """A logged model whose run carries lineage tags as the training job writes them."""
    run_id, uri = logged()
    for key in ("data_digest", "code_digest", "config_digest", "git_commit", "dagster_run_id"):
        client.set_tag(run_id, f"{LINEAGE_PREFIX}{key}", uuid.uuid4().hex)
    return run_id, uri


def gated(client, logged, key: bytes | None = KEY, automatic: bool = True) -> int:
    """A version registered as the training job registers one."""
    run_id, uri = trained(client, logged)
    version, _ = register_with_alias(
        client,
        "m",
        "champion",
        uri,
        run_id,
        challenger_alias="challenger",
        move_champion=automatic,
        signing_key=key,
    )
    return int(version.version)


def champion(client) -> int | None:
    version = champion_version(client, "m", "champion")
    return None if version is None else int(version.version)


def promote_to(client, version: int, key: bytes | None):
    return promote(client, "m", "champion", "challenger", "x", "y", version, signing_key=key)


def hmac_of(key: bytes, version) -> str:
    """The signature computed here, independently of the code under test."""
    fields = ["m", str(version.version), version.run_id, version.source, "passed"]
    return hmac.new(key, json.dumps(fields).encode(), hashlib.sha256).hexdigest()


# --- forgeries: each returns the number of the version it made ---------------------------------


def registration_tag_set_by_hand(client, logged, gated_version):
    _, uri = logged()
    return mlflow.register_model(uri, "m", tags={REGISTRATION_TAG: COMPLETE}).version


def every_version_tag_copied(client, logged, gated_version):
    _, uri = logged()
    return mlflow.register_model(uri, "m", tags=dict(gated_version.tags)).version


def every_version_and_run_tag_copied(client, logged, gated_version):
    run_id, uri = logged()
    for tag, value in client.get_run(gated_version.run_id).data.tags.items():
        if not tag.startswith("mlflow."):
            client.set_tag(run_id, tag, value)
    return mlflow.register_model(uri, "m", tags=dict(gated_version.tags)).version


def gated_model_registered_again_by_hand(client, logged, gated_version):
    return mlflow.register_model(gated_version.source, "m", tags=dict(gated_version.tags)).version


def another_model_under_the_gated_run(client, logged, gated_version):
    _, uri = logged()
    return client.create_model_version(
        "m", uri, run_id=gated_version.run_id, tags=dict(gated_version.tags)
    ).version


def run_artifact_path_as_source(client, logged, gated_version):
    return client.create_model_version(
        "m",
        f"runs:/{gated_version.run_id}/model",
        run_id=gated_version.run_id,
        tags=dict(gated_version.tags),
    ).version


def signed_with_another_key(client, logged, gated_version):
    forged_number = every_version_and_run_tag_copied(client, logged, gated_version)
    forged = client.get_model_version("m", forged_number)
    client.set_model_version_tag("m", forged_number, SIGNATURE_TAG, hmac_of(OTHER_KEY, forged))
    return forged_number


def lineage_edited_on_the_version(client, logged, gated_version):
    forged_number = gated_model_registered_again_by_hand(client, logged, gated_version)
    client.set_model_version_tag("m", forged_number, f"{LINEAGE_PREFIX}data_digest", "0" * 64)
    return forged_number


# The evidence each forgery lacks without a key (None: nothing but the signature tells it from
# a gated version; MLflow's permissions on who may register are what protect it then).
FORGERIES = [
    (registration_tag_set_by_hand, ("gate verdict: expected",)),
    (every_version_tag_copied, ("gate verdict: expected", "lineage: expected")),
    (every_version_and_run_tag_copied, None),
    (gated_model_registered_again_by_hand, None),
    (another_model_under_the_gated_run, ("source: expected the model logged by run",)),
    (run_artifact_path_as_source, ("source: expected", "runs:/")),
    (signed_with_another_key, None),
    (lineage_edited_on_the_version, ("lineage: expected",)),
]


@pytest.mark.parametrize(("forge", "structural"), FORGERIES, ids=[f.__name__ for f, _ in FORGERIES])
def test_a_forged_version_is_refused_by_number_with_the_evidence_it_lacks(store, forge, structural):
    client, logged = store
    real = gated(client, logged)
    forged = int(forge(client, logged, client.get_model_version("m", str(real))))

    refusals = [KEY] if structural is None else [None, KEY]
    for key in refusals:
        with pytest.raises(PromotionRefused) as refused:
            promote_to(client, forged, key)
        message = str(refused.value)
        assert f"m version {forged} was not registered by a gated training run" in message
        for piece in structural or ():
            assert piece in message
        if key is not None:
            assert "signature: expected" in message
            assert KEY.decode() not in message
            assert hmac_of(KEY, client.get_model_version("m", str(forged))) not in message
    assert champion(client) == real


def test_a_gated_version_whose_verdict_was_edited_to_failed_is_refused(store):
    client, logged = store
    first = gated(client, logged)
    second = gated(client, logged, automatic=False)
    client.set_tag(client.get_model_version("m", str(second)).run_id, VERDICT_TAG, "failed")

    with pytest.raises(PromotionRefused, match=rf"version {second} .* found 'failed'"):
        promote_to(client, second, KEY)

    assert champion(client) == first


def test_a_gated_version_signed_with_the_key_promotes_and_rolls_back(store):
    client, logged = store
    first = gated(client, logged)
    second = gated(client, logged, automatic=False)
    version = client.get_model_version("m", str(second))

    assert version.tags[SIGNATURE_TAG] == hmac_of(KEY, version)
    assert client.get_run(version.run_id).data.tags[VERDICT_TAG] == "passed"
    promoted, move = promote_to(client, second, KEY)
    assert (int(promoted.version), move.previous) == (second, first)
    back, _ = rollback(client, "m", "champion", "x", "canary errors", signing_key=KEY)
    assert int(back.version) == first == champion(client)


def test_a_signature_made_with_another_key_is_refused(store):
    client, logged = store
    first = gated(client, logged, key=OTHER_KEY)
    second = gated(client, logged, key=OTHER_KEY, automatic=False)

    with pytest.raises(PromotionRefused, match=rf"version {second} .*signature: expected"):
        promote_to(client, second, KEY)

    assert champion(client) == first


def test_rollback_to_a_forged_previous_champion_is_refused(store):
    client, logged = store
    real = gated(client, logged)
    forged = every_version_tag_copied(client, logged, client.get_model_version("m", str(real)))
    client.set_registered_model_alias("m", "champion", forged)  # outside the pipeline
    newest = gated(client, logged)  # records the forged version as the one it replaced

    with pytest.raises(PromotionRefused, match=rf"version {forged} was not registered"):
        rollback(client, "m", "champion", "x", "bad canary", signing_key=KEY)

    assert champion(client) == newest


def test_a_registration_that_crashed_before_signing_is_signed_when_run_again(store):
    client, logged = store
    run_id, uri = trained(client, logged)
    run_tags = client.get_run(run_id).data.tags
    lineage = {tag: value for tag, value in run_tags.items() if tag.startswith(LINEAGE_PREFIX)}
    # What a crash right after mlflow.register_model leaves: a pending, unsigned version.
    left = mlflow.register_model(uri, "m", tags={**lineage, REGISTRATION_TAG: PENDING})

    version, outcome = register_with_alias(
        client, "m", "champion", uri, run_id, challenger_alias="challenger", signing_key=KEY
    )

    assert (outcome, version.version) == (ALREADY_REGISTERED, left.version)
    finished = client.get_model_version("m", left.version)
    assert finished.tags[REGISTRATION_TAG] == COMPLETE
    assert finished.tags[SIGNATURE_TAG] == hmac_of(KEY, finished)
    assert evidence.missing_evidence(client, finished, KEY) == []
    assert champion(client) == int(left.version)


def test_a_run_whose_report_rejected_it_is_not_registered(store):
    client, logged = store
    first = gated(client, logged)
    run_id, uri = trained(client, logged)
    client.set_tag(run_id, VERDICT_TAG, "rejected")

    with pytest.raises(PromotionRefused, match=rf"run {run_id} is tagged .*'rejected'"):
        register_with_alias(client, "m", "champion", uri, run_id, signing_key=KEY)

    assert [int(v.version) for v in client.search_model_versions("name='m'")] == [first]
    assert champion(client) == first


def test_a_move_by_hand_without_a_reason_is_refused(store):
    client, logged = store
    first = gated(client, logged)
    second = gated(client, logged, automatic=False)

    for reason in ("", " \t\n"):
        with pytest.raises(PromotionRefused, match=r"field `reason`"):
            promote(client, "m", "champion", "challenger", "x", reason, second, signing_key=KEY)
    promote_to(client, second, KEY)
    for reason in ("", " \t\n"):
        with pytest.raises(PromotionRefused, match=r"field `reason`"):
            rollback(client, "m", "champion", "x", reason, signing_key=KEY)

    assert champion(client) == second != first


def test_the_signing_key_comes_from_the_environment_and_is_never_shown(monkeypatch):
    monkeypatch.delenv(evidence.SIGNING_KEY_ENV, raising=False)
    assert evidence.configured_signing_key() is None
    monkeypatch.setenv(evidence.SIGNING_KEY_ENV, "  ")
    assert evidence.configured_signing_key() is None
    monkeypatch.setenv(evidence.SIGNING_KEY_ENV, "hunter2-short")
    with pytest.raises(ValueError, match="TRAINING_ASSETS_SIGNING_KEY is 13 characters") as short:
        evidence.configured_signing_key()
    assert "hunter2" not in str(short.value)
    monkeypatch.setenv(evidence.SIGNING_KEY_ENV, KEY.decode())
    assert evidence.configured_signing_key() == KEY
