"""MLflow tracking for the Dagster runs: where MLflow keeps runs and models (`MlflowStore`), the
MLflow run of each Dagster run (`MlflowTracking`) and the registered model (`ModelRegistry`).

Everything goes through an `MlflowClient` on the configured tracking and registry URIs, with
run ids passed explicitly; mlflow's process-wide state (its tracking URI, its active run) is
never set. The Dagster run's MLflow run is ended when the run's resources are torn down,
FAILED if any step of the Dagster run failed, with one request that a server which stopped
answering cannot hold for long. The embedded default store is a sqlite file with artifacts
inside the working area, so a fresh clone tracks without a server.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import mlflow
from dagster import ConfigurableResource, DagsterEventType, InitResourceContext
from mlflow.entities import LifecycleStage, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE
from mlflow.utils.rest_utils import http_request, verify_rest_response
from mlflow.utils.time import get_current_time_millis
from pydantic import Field, PrivateAttr

from training_assets.core import paths, settings
from training_assets.core.secrets import redact_uri, split_credentials
from training_assets.core.tracking import evidence, registry
from training_assets.defs import healing, links
from training_assets.defs.instance_reads import retried
from training_assets.defs.tags import DAGSTER_RUN_TAG, what_ran


class MlflowStore(ConfigurableResource):
    """Where MLflow tracks runs and registers models; shared by the assets and the sensors."""

    tracking_uri: str | None = Field(
        default=None,
        description=(
            "MLflow tracking URI. Default: $MLFLOW_TRACKING_URI if set, else a sqlite file "
            "in <working area>/mlflow."
        ),
    )
    registry_uri: str | None = Field(
        default=None,
        description=(
            "MLflow model registry URI. Default: $MLFLOW_REGISTRY_URI, else the tracking URI."
        ),
    )
    artifact_location: str | None = Field(
        default=None,
        description=(
            "Artifact root for a newly created experiment. Default: the server's own, or "
            "an artifacts/ folder beside a sqlite store's file."
        ),
    )

    ui_url: str | None = Field(
        default=None,
        description=(
            "Base URL of the MLflow UI, for the links in Dagster. Default: "
            "$TRAINING_ASSETS_MLFLOW_UI_URL, else the tracking server's URL, else "
            "http://127.0.0.1:5000 (`mlflow ui`)."
        ),
    )

    request_timeout_seconds: int = Field(
        default=10,
        ge=1,
        description="Seconds an HTTP request to the tracking server may take before it fails.",
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        description=(
            "Retries of a failed HTTP request to the tracking server, 1 s, 2 s, ... apart. With "
            "the timeout, an unreachable server fails the step within about a minute."
        ),
    )

    def _configured_tracking_uri(self) -> str:
        if self.tracking_uri:
            return self.tracking_uri
        if settings.mlflow_tracking_uri():
            return settings.mlflow_tracking_uri()
        store = paths.default_mlflow_dir()
        store.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{store / 'mlflow.db'}"

    def resolved_tracking_uri(self) -> str:
        """The tracking URI without the user and password an HTTP URI may name; the client
        sends those as a header (see `configure_client`)."""
        return split_credentials(self._configured_tracking_uri())[0]

    def ui_base_url(self) -> str:
        """Where users open the MLflow UI: the setting, else the tracking server, else the
        address `mlflow ui` serves a local store at. Never with credentials."""
        configured = self.ui_url or settings.mlflow_ui_url()
        if configured:
            return redact_uri(split_credentials(configured)[0])
        uri = self.resolved_tracking_uri()
        return uri if _is_http(uri) else links.MLFLOW_UI_DEFAULT

    def display_uri(self) -> str:
        """The tracking URI as it is safe to show: no password, no token."""
        return redact_uri(self._configured_tracking_uri())

    def resolved_artifact_location(self) -> str | None:
        """Where a new experiment keeps artifacts: beside a sqlite store, else the server's.

        MLflow's own default for a sqlite store is ./mlruns under whatever directory the process
        runs in, which scatters artifacts; a server picks its own root.
        """
        if self.artifact_location:
            return self.artifact_location
        uri = self.resolved_tracking_uri()
        if uri.startswith("sqlite:///"):
            return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
        return None

    def configure_client(self) -> mlflow.MlflowClient:
        """A client on the configured tracking and registry stores, both named explicitly.

        Nothing else in the process is pointed at them: mlflow's process-wide tracking and
        registry URIs stay as they were. Credentials in an HTTP URI are taken out of every URI
        the client keeps, so no message it prints (a failed request names its URL) can show
        them, and sent as basic auth. For an HTTP store, MLflow's request timeout, retries
        and basic auth go where MLflow reads them, this process's environment
        (`settings.set_mlflow_http_budget`, which says why); a local store writes nothing.
        """
        uri, user, password = split_credentials(self._configured_tracking_uri())
        registry = self.registry_uri or settings.mlflow_registry_uri()
        registry_uri = uri
        if registry:
            registry_uri, registry_user, registry_password = split_credentials(registry)
            user, password = user or registry_user, password or registry_password
        if _is_http(uri) or _is_http(registry_uri):
            settings.set_mlflow_http_budget(
                self.request_timeout_seconds, self.max_retries, user, password
            )
        with _sqlite_creation_lock(uri):
            return mlflow.MlflowClient(tracking_uri=uri, registry_uri=registry_uri)

    def end_run(self, run_id: str, status: str) -> None:
        """End the MLflow run `run_id` with `status` in one request, not retried.

        When a run's resources are torn down its steps are over: a server that does not answer
        now would otherwise hold the process for the whole retry budget twice (mlflow's
        `set_terminated` first fetches the run to print its URL), and the MLflow run would stay
        RUNNING all the same. The dead-run sensor ends it once the server answers again.
        """
        uri = self.resolved_tracking_uri()
        if not _is_http(uri):
            mlflow.MlflowClient(uri).set_terminated(run_id, status)  # a local store
            return
        endpoint = "/api/2.0/mlflow/runs/update"
        response = http_request(
            get_default_host_creds(uri),
            endpoint,
            "POST",
            max_retries=0,
            timeout=self.request_timeout_seconds,
            json={
                "run_id": run_id,
                "run_uuid": run_id,
                "status": status,
                "end_time": get_current_time_millis(),
            },
        )
        verify_rest_response(response, endpoint)


class MlflowUnavailable(RuntimeError):
    """The MLflow tracking store could not be reached within the configured budget."""


class MlflowTracking(ConfigurableResource):
    """One MLflow run per Dagster run in a configurable experiment, held by its id.

    The run is found by its `dagster_run_id` tag, so every step process of a Dagster run (the
    multiprocess executor) logs into the one MLflow run the first of them created. Nothing is
    made active in mlflow's process-wide state: two Dagster runs in one process (tests,
    `materialize`, the in-process executor) each keep their own run, and nothing is left for
    mlflow's exit handler to end.
    """

    store: MlflowStore
    experiment_name: str = Field(
        default=registry.DEFAULT_EXPERIMENT, description="MLflow experiment for training runs."
    )

    _client: mlflow.MlflowClient | None = PrivateAttr(default=None)
    _experiment_id: str | None = PrivateAttr(default=None)
    _run_id: str | None = PrivateAttr(default=None)

    @property
    def client(self) -> mlflow.MlflowClient:
        """A client on the configured stores, which the run id and model URIs are for."""
        if self._client is None:
            raise RuntimeError("MlflowTracking is only usable inside a Dagster run")
        return self._client

    @property
    def run_id(self) -> str:
        """The MLflow run of this Dagster run."""
        if self._run_id is None:
            raise RuntimeError("MlflowTracking is only usable inside a Dagster run")
        return self._run_id

    @property
    def experiment_id(self) -> str:
        """The experiment of this Dagster run's MLflow run."""
        if self._experiment_id is None:
            raise RuntimeError("MlflowTracking is only usable inside a Dagster run")
        return self._experiment_id

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if _run_is_over(context):
            # `dagster job execute` opens the resources once more after the run, to read its
            # outputs. Nothing is tracked then, and asking MLflow would, in an outage, print a
            # failure to start a run that had started as the run's last word, after the full
            # retry budget.
            return
        client = self.store.configure_client()
        if context.instance is not None:
            # Before this run takes the training slot: runs whose process died give theirs up.
            healing.claim_run(context.instance, context.run.run_id)
            for run_id in healing.heal_dead_runs(context.instance):
                context.log.warning(f"Run {run_id} had lost its process; marked failed")
        try:
            self._experiment_id = self._experiment(client)
            self._run_id = self._start(client, context)
        except Exception as error:
            # MLflow's own message names only the request; say which store, and the budget.
            raise MlflowUnavailable(
                f"MLflow tracking at {self.store.display_uri()} failed to start this run "
                f"(request timeout {self.store.request_timeout_seconds} s, "
                f"{self.store.max_retries} retries): "
                f"{type(error).__name__}: {redact_uri(str(error))[:1000]}"
            ) from None
        self._client = client
        if context.instance is not None:
            for run_id in healing.end_orphaned_mlflow_runs(client, context.instance):
                context.log.warning(f"MLflow run {run_id} of a finished Dagster run: ended")

    def _experiment(self, client: mlflow.MlflowClient) -> str:
        """The id of the experiment, created with the store's artifact location if new."""
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            try:
                return client.create_experiment(
                    self.experiment_name, artifact_location=self.store.resolved_artifact_location()
                )
            except MlflowException as error:
                # Another run's process created it since we looked: two runs starting at once.
                if error.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment.lifecycle_stage == LifecycleStage.DELETED:
            raise ValueError(
                f"experiment {self.experiment_name!r} is deleted: restore it, or name another "
                "in mlflow_tracking.experiment_name"
            )
        return experiment.experiment_id

    def _start(self, client: mlflow.MlflowClient, context: InitResourceContext) -> str:
        """The id of this Dagster run's MLflow run: the one an earlier step process of the
        run started, set RUNNING again, else a new one."""
        run = context.run
        started = client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.{DAGSTER_RUN_TAG} = '{run.run_id}'",
            max_results=1,
        )
        if started:
            run_id = started[0].info.run_id
            client.update_run(run_id, status=RunStatus.to_string(RunStatus.RUNNING))
            return run_id
        label = what_ran(run.job_name, run.asset_selection)
        url = links.dagster_run_url(run.run_id)
        # Named for what ran ("__ASSET_JOB" is Dagster's name for a launch from the asset
        # graph). The description is the one place MLflow renders markdown: a clickable way
        # back to the Dagster run, where a tag is shown cut off and plain.
        created = client.create_run(
            self.experiment_id,
            run_name=label,
            tags={
                DAGSTER_RUN_TAG: run.run_id,
                MLFLOW_RUN_NOTE: f"Trained by the Dagster run [{run.run_id}]({url}) ({label}).",
            },
        )
        context.log.info(
            f"Started MLflow run {created.info.run_id} in experiment {self.experiment_name}"
        )
        return created.info.run_id

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._run_id is None:
            return
        failed = context.instance is not None and _any_step_failed(context)
        status = RunStatus.to_string(RunStatus.FAILED if failed else RunStatus.FINISHED)
        try:
            self.store.end_run(self._run_id, status)
        except Exception as error:
            # A warning, not a failure: the run's own outcome (a step's error naming the
            # outage) stays the last error printed.
            context.log.warning(
                f"MLflow run {self._run_id} could not be ended {status} and stays RUNNING "
                f"until the dead-run sensor ends it once {self.store.display_uri()} answers: "
                f"{type(error).__name__}: {redact_uri(str(error))[:500]}"
            )


def _is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def _run_is_over(context: InitResourceContext) -> bool:
    """Whether the Dagster run these resources are opened for has already finished."""
    if context.instance is None or context.run is None:
        return False
    run_id = context.run.run_id
    run = retried(lambda: context.instance.get_run_by_id(run_id), f"run {run_id}")
    return run is not None and run.is_finished


def _any_step_failed(context: InitResourceContext) -> bool:
    """Whether any step of the current Dagster run has failed, a failed gate included."""
    failures = retried(
        lambda: context.instance.get_records_for_run(
            context.run.run_id, of_type=DagsterEventType.STEP_FAILURE, limit=1
        ),
        "this run's step failures",
    )
    return bool(failures.records)


@contextmanager
def _sqlite_creation_lock(uri: str) -> Iterator[None]:
    """Serialise the first opening of an embedded sqlite store across processes.

    The first client on a new sqlite file creates and migrates its tables; two processes doing
    that at once (the daemon's drift sensor and a run worker, say) break the migration.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    lock_path = Path(uri.removeprefix("sqlite:///") + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ModelRegistry(ConfigurableResource):
    """The registered model that gated models join and the alias that marks production."""

    model_name: str = Field(
        default=registry.DEFAULT_MODEL_NAME,
        pattern=registry.MODEL_NAME_PATTERN,
        description="Registered model name in MLflow: letters, digits, '_', '.' or '-'.",
    )
    alias: str = Field(
        default=registry.DEFAULT_ALIAS,
        pattern=registry.ALIAS_PATTERN,
        description=(
            "Alias of the version in production (the champion), which new models are judged "
            "against: letters, digits, '_', '-'."
        ),
    )
    challenger_alias: str = Field(
        default=registry.CHALLENGER_ALIAS,
        pattern=registry.ALIAS_PATTERN,
        description="Alias moved to each newly registered version, which passed every gate.",
    )
    promotion: Literal["automatic", "manual", "shadow"] = Field(
        default="automatic",
        description=(
            "automatic: a version that passed every gate becomes the champion at once. "
            "manual: it stays the challenger until promote_model_job runs (after reading its "
            "report); only that job and rollback_model_job move the champion. shadow: as "
            "manual, and shadow_promotion_sensor runs promote_model_job once the challenger, "
            "scored in shadow, beat the champion live (see docs/monitoring.md)."
        ),
    )

    rollback_on_live_regression: bool = Field(
        default=False,
        description=(
            "When the champion did worse live than the champion it replaced, both scored on "
            "the same requests, on the latest shadow_min_days judged days: true, "
            "live_rollback_sensor runs rollback_model_job; false, the failed check "
            "champion_not_worse_than_previous_live names the version it would restore."
        ),
    )

    def champion(self, client: mlflow.MlflowClient):
        """The version the alias points at, or None when there is none yet."""
        return registry.champion_version(client, self.model_name, self.alias)

    def check_aliases(self) -> None:
        """The champion and challenger aliases differ; the same name for both would move
        the champion at every registration, promotion mode or not."""
        if self.alias == self.challenger_alias:
            raise ValueError(
                f"model_registry.alias and challenger_alias are both {self.alias!r}; "
                "give the challenger an alias of its own"
            )

    def champion_uri(self) -> str:
        return f"models:/{self.model_name}@{self.alias}"

    def signing_key(self) -> bytes | None:
        """The key that signs gated versions and checks them before the champion moves:
        `TRAINING_ASSETS_SIGNING_KEY` in the code location's environment, never run config
        (a secret must not appear in the launchpad or the run's records). None when unset.

        Raises:
            ValueError: when it is too short to be a key.
        """
        return evidence.configured_signing_key()
