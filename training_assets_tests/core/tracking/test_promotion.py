"""Challenger, then champion, on a real sqlite MLflow store: registration moves the challenger
and, when promotion is automatic, the champion; a promotion takes only gated versions; a
rollback goes back one champion at a time; every move is recorded on the version and in the
model's alias history."""

import mlflow
import pytest

from training_assets.core.tracking.registry import (
    LINEAGE_PREFIX,
    REGISTERED,
    PromotionRefused,
    alias_history,
    champion_version,
    promote,
    register_with_alias,
    rollback,
)

NO_KEY = {"signing_key": None}


def register(client, logged, promote_now: bool, by: str = "training_job run r") -> int:
    run_id, uri = logged()
    version, outcome = register_with_alias(
        client,
        "m",
        "champion",
        uri,
        run_id,
        challenger_alias="challenger",
        move_champion=promote_now,
        moved_by=by,
        reason="passed every gate",
        signing_key=None,
    )
    assert outcome == REGISTERED
    return int(version.version)


def alias(client, name: str) -> int | None:
    version = champion_version(client, "m", name)
    return None if version is None else int(version.version)


def test_manual_promotion_leaves_the_champion_until_promoted(store):
    client, logged = store
    first = register(client, logged, promote_now=True)
    second = register(client, logged, promote_now=False)

    assert (alias(client, "champion"), alias(client, "challenger")) == (first, second)

    champion, move = promote(
        client,
        "m",
        "champion",
        "challenger",
        moved_by="promote_model_job run p",
        reason="ok",
        signing_key=None,
    )

    assert int(champion.version) == second == alias(client, "champion")
    assert (move.previous, move.version, move.moved_by) == (
        first,
        second,
        "promote_model_job run p",
    )
    tags = client.get_model_version("m", str(second)).tags
    assert tags[f"{LINEAGE_PREFIX}champion.moved_by"] == "promote_model_job run p"
    assert tags[f"{LINEAGE_PREFIX}champion.reason"] == "ok"
    assert tags[f"{LINEAGE_PREFIX}champion.previous"] == str(first)
    assert [(m["alias"], m["version"]) for m in alias_history(client, "m")] == [
        ("challenger", first),
        ("champion", first),
        ("challenger", second),
        ("champion", second),
    ]
    # Promoting the champion again moves nothing.
    assert promote(client, "m", "champion", "challenger", "x", "again", signing_key=None)[1] is None


def test_a_version_registered_by_hand_cannot_be_promoted(store):
    client, logged = store
    register(client, logged, promote_now=True)
    run_id, uri = logged()
    by_hand = mlflow.register_model(uri, "m")

    with pytest.raises(PromotionRefused, match=rf"version {by_hand.version} was not registered"):
        promote(
            client, "m", "champion", "challenger", "x", "y", version=int(by_hand.version), **NO_KEY
        )
    with pytest.raises(PromotionRefused, match="has no version 99"):
        promote(client, "m", "champion", "challenger", "x", "y", version=99, **NO_KEY)

    assert alias(client, "champion") == 1


def test_promotion_without_a_challenger_says_so(store):
    client, _ = store
    client.create_registered_model("m")

    with pytest.raises(PromotionRefused, match="has no @challenger"):
        promote(client, "m", "champion", "challenger", "x", "y", **NO_KEY)


def test_rollback_goes_back_one_champion_at_a_time(store):
    client, logged = store
    v1, v2, v3 = (register(client, logged, promote_now=True) for _ in range(3))
    assert alias(client, "champion") == v3

    first, move = rollback(
        client, "m", "champion", "rollback_model_job run a", "bad latency", **NO_KEY
    )
    second, _ = rollback(client, "m", "champion", "rollback_model_job run b", "again", **NO_KEY)

    assert (int(first.version), int(second.version)) == (v2, v1)
    assert move.reason == f"rollback from version {v3}: bad latency"
    assert alias(client, "champion") == v1
    with pytest.raises(PromotionRefused, match="nothing to roll back to"):
        rollback(client, "m", "champion", "x", "why", **NO_KEY)
    # The challenger stays on the newest gated version.
    assert alias(client, "challenger") == v3


def test_rollback_refuses_a_previous_champion_that_was_set_by_hand(store):
    client, logged = store
    register(client, logged, promote_now=True)
    run_id, uri = logged()
    by_hand = mlflow.register_model(uri, "m")
    client.set_registered_model_alias("m", "champion", by_hand.version)  # outside the pipeline
    gated = register(client, logged, promote_now=True)

    with pytest.raises(PromotionRefused, match=rf"version {by_hand.version} was not registered"):
        rollback(client, "m", "champion", "x", "why", **NO_KEY)

    assert alias(client, "champion") == gated
