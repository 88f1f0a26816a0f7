"""The model follower on its own, with a registry that answers what each test says: it swaps a
moved alias in whole, keeps serving through a registry error or a version that fails to load,
keeps the champion when its alias vanishes, and holds no challenger equal to the champion."""

from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from training_assets.server.models import ModelFollower, RegistryAddress, ServedModel


class Registry:
    """Aliases to version numbers; `down` makes every call fail as an outage would."""

    def __init__(self, **aliases: int):
        self.aliases, self.down = dict(aliases), False

    def get_model_version_by_alias(self, name, alias):
        if self.down:
            raise ConnectionError("registry unreachable")
        if alias not in self.aliases:
            raise MlflowException("no such alias", error_code=INVALID_PARAMETER_VALUE)
        return SimpleNamespace(name=name, version=str(self.aliases[alias]))

    def get_registered_model(self, name):
        return SimpleNamespace(aliases=dict(self.aliases))


def follower(registry: Registry, broken: set[int] = frozenset()) -> tuple[ModelFollower, list]:
    loads = []

    def load(address, version) -> ServedModel:
        number = int(version.version)
        if number in broken:
            raise MlflowException(f"version {number} does not load")
        loads.append(number)
        return ServedModel(version.name, number, model=object())

    made = ModelFollower(RegistryAddress("sqlite:///unused.db"), "m", load=load)
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
