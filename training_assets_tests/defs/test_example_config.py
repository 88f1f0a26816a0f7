"""config/example_run.yaml, which the docs point users at, is valid run config of
training_job, names the defaults it claims to, and passed as it is runs with the defaults in
effect: no path that ignores the working area, no setting that hides one from the environment.
The config digest is of the config in effect, so a default written out is a default left out."""

import yaml
from dagster import validate_run_config

from training_assets.core import paths
from training_assets.core.tracking.lineage import config_digest
from training_assets.definitions import defs
from training_assets.defs.config import effective_run_config
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.mlflow import ModelRegistry


def example() -> dict:
    return yaml.safe_load((paths.PROJECT_ROOT / "config" / "example_run.yaml").read_text())


def job():
    return defs.resolve_job_def("training_job")


def test_the_example_run_config_is_valid_and_shows_the_defaults():
    validate_run_config(job(), example())

    resources = example()["resources"]
    for resource, fields in (
        (ModelRegistry(), resources["model_registry"]["config"]),
        (FeastResource(), resources["feast"]["config"]),
    ):
        for name, value in fields.items():
            assert getattr(resource, name) == value, name


def test_the_example_as_it_is_puts_exactly_the_defaults_in_effect():
    assert effective_run_config(job(), example()) == effective_run_config(job(), {})


def test_the_config_digest_is_of_the_config_in_effect():
    nothing = config_digest(effective_run_config(job(), {}))
    written_out = {"ops": {"trained_model": {"config": {"alpha": 0.5}}}}
    other = {"ops": {"trained_model": {"config": {"alpha": 0.4}}}}
    elsewhere = {"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}

    assert config_digest(effective_run_config(job(), written_out)) == nothing
    assert config_digest(effective_run_config(job(), other)) != nothing
    # Where the steps run does not change what is trained.
    assert config_digest(effective_run_config(job(), elsewhere)) == nothing
    # Nor does the job: "Materialize all" in the UI and training_job with the same settings.
    everything = defs.get_repository_def().get_job("__ASSET_JOB")
    assert config_digest(effective_run_config(everything, {})) == nothing
