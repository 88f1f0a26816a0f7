"""config/example_run.yaml, which the README points users at, is valid run config of
training_job and names the defaults it claims to."""

import yaml
from dagster import validate_run_config

from training_assets.core import paths
from training_assets.definitions import defs
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.mlflow import ModelRegistry


def test_the_example_run_config_is_valid_and_shows_the_defaults():
    example = yaml.safe_load((paths.PROJECT_ROOT / "config" / "example_run.yaml").read_text())

    validate_run_config(defs.resolve_job_def("training_job"), example)

    resources = example["resources"]
    for resource, fields in (
        (ModelRegistry(), resources["model_registry"]["config"]),
        (FeastResource(), resources["feast"]["config"]),
    ):
        for name, value in fields.items():
            if name.endswith("_path"):
                continue  # shown relative to the project; the default is absolute
            assert getattr(resource, name) == value, name
