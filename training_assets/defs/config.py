"""Run config of the split and the model: the core settings, as Dagster config.

Every default can be overridden in run config (`dagster job execute -c run.yaml`, or the
launchpad in the UI); see config/example_run.yaml. The fields and their descriptions are
declared once, in the core settings classes.

Dagster checks run config against the config schema when a run is launched, but the schema
knows only types: the settings' ranges (`test_size` in (0, 1), `alpha` >= 0) are checked by
pydantic when a step builds its config, after the steps before it have run. `check_run_config`
builds every step's config as the run starts instead; the executor calls it before any step.
"""

import inspect
from collections.abc import Mapping

from dagster import Config, JobDefinition, validate_run_config
from pydantic import ValidationError

from training_assets.core.ml.elastic_net import ElasticNetSettings
from training_assets.core.ml.split import SplitSettings
from training_assets.defs.resources.gates import GateThresholds


class SplitConfig(Config, SplitSettings):
    """How the training table is split into train and test rows."""


class ModelConfig(Config, ElasticNetSettings):
    """ElasticNet hyperparameters."""


# Resources whose settings are checked with the ops' (a switch of a gate's blocking set against
# the code location's, for one), by resource key.
_RESOURCE_SETTINGS = {"gates": GateThresholds}

# Where a run's steps execute and how it logs: they do not change what it trains.
_NOT_SETTINGS = ("execution", "loggers")


def effective_run_config(job: JobDefinition, run_config: Mapping) -> dict:
    """The settings a run of `job` works with: `run_config` with every default filled in, so
    that a value left out and the same value written out make one config.

    Unset optional values (null) and ops and resources without settings are left out, so that
    jobs of other selections (training_job, "Materialize all" in the UI) agree on the same
    settings; where the steps execute and how the run logs (`execution`, `loggers`) too.
    """
    validated = validate_run_config(job, run_config)
    effective = {}
    for section, entries in validated.items():
        if section in _NOT_SETTINGS:
            continue
        kept = {name: _set((entry or {}).get("config")) for name, entry in entries.items()}
        effective[section] = {name: config for name, config in kept.items() if config}
    return effective


def _set(value):
    """`value` without its nulls and empty mappings, at any depth."""
    if not isinstance(value, Mapping):
        return value
    kept = {key: _set(item) for key, item in value.items() if item is not None}
    return {key: item for key, item in kept.items() if item != {}}


class RunConfigError(ValueError):
    """Run config that fits the config schema's types but not a setting's range."""


def check_run_config(job: JobDefinition, run_config: Mapping) -> None:
    """Build each op's config of `job` from `run_config` (defaults filled in), as its step
    would, so that a value out of range stops the run before its first step.

    Raises:
        RunConfigError: naming each field (`ops.splits.config.test_size`), what it must be
            and the value found.
    """
    validated = validate_run_config(job, run_config)
    ops, resources = validated.get("ops", {}), validated.get("resources") or {}
    problems = []
    for key, settings in _RESOURCE_SETTINGS.items():
        values = (resources.get(key) or {}).get("config") or {}
        problems += _problems(("resources", key, "config"), settings, values)
    for node in job.nodes:
        settings = config_class(node.definition)
        if settings is not None:
            values = (ops.get(node.name) or {}).get("config") or {}
            problems += _problems(("ops", node.name, "config"), settings, values)
    if problems:
        raise RunConfigError(
            f"run config refused before any step of {job.name}: " + "; ".join(problems)
        )


def _problems(where: tuple[str, ...], settings, values: Mapping) -> list[str]:
    """What is wrong with `values` as `settings`, each named by its field under `where`."""
    try:
        settings(**values)
    except ValidationError as error:
        return [
            f"{'.'.join(str(part) for part in (*where, *detail['loc']))}: {detail['msg']}"
            # A field's own value; a check of several fields names them in its message.
            + (f", found {detail['input']!r}" if detail["loc"] else "")
            for detail in error.errors()
        ]
    return []


def config_class(op) -> type[Config] | None:
    """The Config class of an op's (an asset's) `config` parameter, if it has one."""
    function = getattr(getattr(op, "compute_fn", None), "decorated_fn", None)
    if function is None:
        return None
    parameter = inspect.signature(function).parameters.get("config")
    annotation = parameter.annotation if parameter is not None else None
    return annotation if inspect.isclass(annotation) and issubclass(annotation, Config) else None
