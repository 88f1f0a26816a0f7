"""The model_registry resource's settings."""

import pytest

from training_assets.defs.resources.mlflow import ModelRegistry


def test_the_same_alias_for_champion_and_challenger_is_refused():
    with pytest.raises(ValueError, match="give the challenger an alias of its own"):
        ModelRegistry(alias="prod", challenger_alias="prod").check_aliases()
    ModelRegistry().check_aliases()
