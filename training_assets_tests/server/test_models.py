"""The model follower on its own, with a registry that answers what each test says: it swaps a
moved alias in whole, keeps serving through a registry error or a version that fails to load,
keeps the champion when its alias vanishes, and holds no challenger equal to the champion; it
holds the champion the current one replaced as `previous` (as `registry.move_alias` records
it), reusing a held model, and none for a champion that came back by a rollback."""

from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from training_assets.core.tracking.registry import ROLLBACK_REASON, move_alias
from training_assets.server import models
from training_assets.server.models import ModelFollower, RegistryAddress, ServedModel


class Registry:
    """Aliases to version numbers, and each version's tags (as `move_alias` writes them);
    `down` makes every call fail as an outage would."""

    def __init__(self, **aliases: int):
        self.aliases, self.down = dict(aliases), False
        self.tags: dict[int, dict[str, str]] = {}
        self.model_tags: dict[str, str] = {}
        self.versions_read: list[int] = []

    def get_model_version_by_alias(self, name, alias):
        if self.down:
            raise ConnectionError("registry unreachable")
        if alias not in self.aliases:
            raise MlflowException("no such alias", error_code=INVALID_PARAMETER_VALUE)
        return self._version(name, self.aliases[alias])

    def get_model_version(self, name, version):
        if self.down:
            raise ConnectionError("registry unreachable")
        self.versions_read.append(int(version))
        return self._version(name, int(version))

    def get_registered_model(self, name):
        return SimpleNamespace(aliases=dict(self.aliases), tags=dict(self.model_tags))

    def set_model_version_tag(self, name, version, key, value):
        self.tags.setdefault(int(version), {})[key] = value

    def set_registered_model_tag(self, name, key, value):
        self.model_tags[key] = value

    def set_registered_model_alias(self, name, alias, version):
        self.aliases[alias] = int(version)

    def _version(self, name, number: int):
        return SimpleNamespace(name=name, version=str(number), tags=dict(self.tags.get(number, {})))


def promoted(registry: Registry, version: int) -> None:
    """@champion moved to `version` as a promotion records it (`.previous` the one it left)."""
    move_alias(registry, "m", "champion", version, "test", "promoted")


def rolled_back(registry: Registry, version: int) -> None:
    """@champion moved back to `version` as `registry.rollback` records it."""
    current = registry.aliases["champion"]
    reason = f"{ROLLBACK_REASON} {current}: worse live"
    move_alias(registry, "m", "champion", version, "test", reason, record_previous=False)


def follower(
    registry: Registry, broken: set[int] = frozenset(), **options
) -> tuple[ModelFollower, list]:
    loads = []

    def load(address, version) -> ServedModel:
        number = int(version.version)
        if number in broken:
            raise MlflowException(f"version {number} does not load")
        loads.append(number)
        return ServedModel(version.name, number, model=object())

    made = ModelFollower(RegistryAddress("sqlite:///unused.db"), "m", load=load, **options)
    made._client = registry
    return made, loads


def test_a_moved_alias_is_loaded_once_and_swapped_in_with_its_challenger():
    registry = Registry(champion=1, challenger=2)
    made, loads = follower(registry)
    made.poll()
    first = made.served
    made.poll()

    assert (first.champion.version, first.challenger.version) == (1, 2)
    assert made.served is not first and made.served.champion is first.champion
    registry.aliases["champion"] = 2
    made.poll()

    # Version 2 was already held as the challenger: not loaded again; now no challenger.
    assert loads == [1, 2]
    assert made.served.champion is first.challenger and made.served.challenger is None
    assert made.swaps == 2


def test_a_registry_error_or_a_broken_version_leaves_the_champion_serving():
    registry = Registry(champion=1)
    made, _ = follower(registry, broken={3})
    made.poll()
    serving = made.served
    registry.down = True
    with pytest.raises(ConnectionError):
        made.poll()
    registry.down, registry.aliases["champion"] = False, 3
    with pytest.raises(MlflowException, match="does not load"):
        made.poll()

    assert made.served is serving and made.champion.version == 1


def test_a_champion_whose_alias_vanished_keeps_serving_and_no_alias_means_no_challenger():
    registry = Registry(champion=1)
    made, _ = follower(registry)
    made.poll()
    del registry.aliases["champion"]
    made.poll()

    assert made.champion.version == 1 and made.challenger is None


def test_a_promotion_makes_the_old_champion_previous_without_loading_it_again():
    registry = Registry(challenger=2)
    promoted(registry, 1)
    made, loads = follower(registry)
    made.poll()
    one, two = made.champion, made.challenger
    promoted(registry, 2)
    made.poll()

    assert (made.champion, made.challenger, made.previous) == (two, None, one)
    # Both were held: the champion as the challenger, the previous one as the champion.
    assert loads == [1, 2] and registry.versions_read == []
    registry.aliases["challenger"] = 3
    promoted(registry, 3)
    made.poll()

    assert (made.champion.version, made.challenger, made.previous) == (3, None, two)
    assert loads == [1, 2, 3]


def test_a_rollback_drops_the_previous_champion_and_brings_its_model_back_unloaded():
    registry = Registry()
    promoted(registry, 1)
    promoted(registry, 2)
    made, loads = follower(registry)
    made.poll()
    two, one = made.champion, made.previous
    rolled_back(registry, 1)
    made.poll()

    # Version 1 was read once by number (the previous one, not pointed at by an alias).
    assert (two.version, one.version) == (2, 1) and registry.versions_read == [1]
    assert made.champion is one and made.previous is None and made.challenger is None
    assert loads == [2, 1]


def test_a_champion_that_came_back_by_a_rollback_has_no_previous_one_scored():
    registry = Registry()
    for version in (1, 2, 3):
        promoted(registry, version)
    rolled_back(registry, 2)
    made, loads = follower(registry)
    made.poll()

    # Version 2 still records 1 as the champion it once replaced: not scored again.
    assert registry.tags[2]["training_assets.champion.previous"] == "1"
    assert made.champion.version == 2 and made.previous is None
    assert loads == [2] and registry.versions_read == []


def test_a_previous_champion_that_is_the_challenger_is_scored_as_the_challenger_only():
    registry = Registry(challenger=1)
    promoted(registry, 1)
    promoted(registry, 2)
    made, loads = follower(registry)
    made.poll()

    assert (made.champion.version, made.challenger.version, made.previous) == (2, 1, None)
    assert loads == [2, 1]


def test_without_shadow_no_previous_champion_is_loaded():
    registry = Registry()
    promoted(registry, 1)
    promoted(registry, 2)
    made, loads = follower(registry, challenger_alias=None, follow_previous=False)
    made.poll()

    assert made.champion.version == 2 and made.served.shadows() == {}
    assert loads == [2]


def test_a_previous_champion_that_fails_to_load_does_not_hold_the_champion_back():
    registry = Registry(champion=2)
    registry.tags[2] = {"training_assets.champion.previous": "1"}
    made, loads = follower(registry, broken={1})
    with pytest.raises(models.ShadowNotLoaded, match="version 1, could not be loaded"):
        made.poll()

    assert made.champion.version == 2 and made.previous is None and loads == [2]


def test_the_champion_serves_before_the_previous_one_loads_and_a_broken_one_is_not_reloaded():
    registry = Registry(champion=2)
    registry.tags[2] = {"training_assets.champion.previous": "1"}
    seen_while_loading = []

    def load(address, version) -> ServedModel:
        number = int(version.version)
        if number == 1:
            # The previous champion's load: the champion already answers.
            seen_while_loading.append(made.champion.version if made.champion else None)
            raise MlflowException("version 1 does not load")
        return ServedModel(version.name, number, model=object())

    made = ModelFollower(RegistryAddress("sqlite:///unused.db"), "m", load=load)
    made._client = registry
    with pytest.raises(models.ShadowNotLoaded):
        made.poll()
    assert seen_while_loading == [2]
    # Polled again: still reported, but not downloaded again each poll.
    read = len(registry.versions_read)
    with pytest.raises(models.ShadowNotLoaded, match="version 1, could not be loaded"):
        made.poll()
    assert len(registry.versions_read) == read and seen_while_loading == [2]
    assert made.champion.version == 2 and made.previous is None


def test_a_challenger_that_fails_to_load_does_not_hold_a_new_champion_back():
    registry = Registry(champion=1, challenger=2)
    made, loads = follower(registry, broken={3})
    made.poll()
    assert (made.champion.version, made.challenger.version) == (1, 2)
    # @champion moves to 2 and @challenger to a version that does not load: 2 answers at
    # once, unshadowed, and the poll says why.
    registry.aliases.update(champion=2, challenger=3)
    with pytest.raises(models.ShadowNotLoaded, match="the challenger, version 3, could not"):
        made.poll()
    assert made.champion.version == 2 and made.challenger is None
    assert loads == [1, 2]
