"""Where a run's steps execute: a deployment choice, made in the environment and run config.

`TRAINING_ASSETS_EXECUTOR` in the code location's environment picks the executor:

- `local` (the default): the steps run in the run's own process (`in_process`), the fastest
  on one machine, since every step process would otherwise import Feast and MLflow again. Run
  config can choose one process per step instead:
  `execution: {config: {multiprocess: {max_concurrent: 2}}}`.
- `celery`: dagster-celery's executor; each step is a Celery task on a worker started with
  `dagster-celery worker start`. Run config names the broker and result backend
  (`execution: {config: {broker: ..., backend: ...}}`); deploy/ has an example.
- `k8s`: dagster-k8s's `k8s_job_executor`, each step a Kubernetes Job, with the Helm chart's
  `K8sRunLauncher` (deploy/helm/values.yaml).

Whichever runs the steps, the process that orchestrates them first builds every step's config
(`config.check_run_config`), so that a setting out of range stops the run before any step, and
records itself on the run (its host and process id), so that a run whose step processes come
and go is not taken for a dead one; see `healing`. After the steps it records, on each asset
that failed gates held back, what happened (`held_back`). It also applies the speed and memory
settings of the process that runs the steps (`process_tuning`), which nothing applies on import.
"""

from collections.abc import Iterator

from dagster import Executor, ExecutorDefinition, Field, multi_or_in_process_executor

from training_assets.core import settings
from training_assets.defs import healing, held_back
from training_assets.defs.config import check_run_config
from training_assets.defs.process_tuning import tune_run_process

EXECUTOR_ENV = settings.EXECUTOR_ENV
EXECUTORS = ("local", "celery", "k8s")
_EXTRA = {"celery": "dagster-celery", "k8s": "dagster-k8s"}


class _ClaimingExecutor(Executor):
    """An executor that first records the orchestrating process on the run, then delegates."""

    def __init__(self, inner: Executor):
        self._inner = inner

    def __getattr__(self, name: str):
        # Executors read their own settings back from the orchestration context's executor
        # (Celery's app_args, for one): those are the inner executor's.
        return getattr(self._inner, name)

    def execute(self, plan_context, execution_plan) -> Iterator:
        # The process that runs this run's steps (in process) or orchestrates them, and no
        # other, takes the run's speed and memory settings.
        tune_run_process()
        # Before any step: a setting out of range would otherwise fail only the step that
        # builds its config, after the join and the steps before it have run.
        check_run_config(plan_context.job.get_definition(), plan_context.run_config)
        healing.claim_run(plan_context.instance, plan_context.run_id)
        yield from self._inner.execute(plan_context, execution_plan)
        # While the run is still going, so that its end comes after the explanation.
        held_back.record_held_back(
            plan_context.instance, plan_context.run_id, plan_context.dagster_run.job_name
        )

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config


def _claiming(inner: ExecutorDefinition, config_schema=None) -> ExecutorDefinition:
    def create(init_context):
        return _ClaimingExecutor(inner.executor_creation_fn(init_context))

    return ExecutorDefinition(
        name=inner.name,
        config_schema=config_schema if config_schema is not None else inner.config_schema,
        requirements=inner.get_requirements,
        executor_creation_fn=create,
        description=inner.description,
    )


def _local() -> ExecutorDefinition:
    """Dagster's in-process-or-multiprocess executor, in process unless run config says
    otherwise (Dagster's own default is multiprocess)."""
    selector = multi_or_in_process_executor.config_schema.config_type
    return _claiming(
        multi_or_in_process_executor, Field(selector, default_value={"in_process": {}})
    )


def training_executor(choice: str | None = None) -> ExecutorDefinition:
    """The executor named by `choice`, else by `$TRAINING_ASSETS_EXECUTOR`, else `local`.

    Raises:
        ValueError: naming the variable, the value and the choices when the value is unknown,
            and the package to install when the executor's package is missing.
    """
    choice = (choice or settings.executor() or "local").strip().lower()
    if choice == "local":
        return _local()
    if choice not in EXECUTORS:
        raise ValueError(f"{EXECUTOR_ENV}={choice!r}: expected one of {', '.join(EXECUTORS)}")
    try:
        if choice == "celery":
            from dagster_celery import celery_executor as chosen
        else:
            from dagster_k8s import k8s_job_executor as chosen
    except ImportError:
        raise ValueError(
            f"{EXECUTOR_ENV}={choice} needs {_EXTRA[choice]}: "
            'pip install -c constraints.txt -e ".[production]"'
        ) from None
    return _claiming(chosen)
