"""The models a server holds: the version each alias it follows points at, loaded once, and
replaced by swapping one reference when the alias moves.

A poller thread asks the registry where `@champion` (and `@challenger`) point every
`poll_seconds`. A version not yet held is downloaded and loaded beside the one serving, and
only then does the reference change; a request reads the reference once and scores every row
with what it read, so no request mixes two versions and none waits for a load. A registry that
cannot be reached leaves the loaded models serving and is asked again at the next poll; a
server that starts while it is unreachable holds no model until it answers.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
from mlflow.entities.model_registry import ModelVersion

from training_assets.core.features.online import OnlineModel
from training_assets.core.secrets import redact_uri
from training_assets.core.tracking import registry

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class ServedModel:
    """One registered version, loaded."""

    name: str
    version: int
    model: OnlineModel


@dataclass(frozen=True)
class RegistryAddress:
    """Where the registry is: the URIs a client and an artifact download are given."""

    tracking_uri: str
    registry_uri: str | None = None

    @property
    def resolved_registry_uri(self) -> str:
        return self.registry_uri or self.tracking_uri

    def client(self) -> mlflow.MlflowClient:
        # Named explicitly: a client without a registry URI uses mlflow's process-wide one,
        # whose default is a sqlite file in the current directory.
        return mlflow.MlflowClient(
            tracking_uri=self.tracking_uri, registry_uri=self.resolved_registry_uri
        )


def load_version(address: RegistryAddress, version: ModelVersion) -> ServedModel:
    """Download the registered `version`, load it and score once; the download is removed
    once the model is in memory."""
    client = address.client()
    model = OnlineModel(client, artifact_location(client, version))
    model.warm_up()
    return ServedModel(version.name, int(version.version), model)


def artifact_location(client: mlflow.MlflowClient, version: ModelVersion) -> str:
    """Where `version`'s files are, asked of `client`'s stores.

    A version's source is a logged model (`models:/m-...`, MLflow 3) or a run's artifact path
    (`runs:/...`); mlflow's own resolution of either (and `models:/name/N`) goes through its
    process-wide tracking and registry URIs, not the client's."""
    source = version.source
    model_id = version.model_id or (
        source.removeprefix("models:/") if source.startswith("models:/m-") else None
    )
    if model_id:
        return client.get_logged_model(model_id).artifact_location
    if source.startswith("runs:/"):
        run_id, _, path = source.removeprefix("runs:/").partition("/")
        return f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{path}"
    return source


@dataclass(frozen=True)
class Served:
    """What answers (`champion`) and what is scored in shadow (`challenger`: None when the
    alias is absent or points at the champion's version), replaced together."""

    champion: ServedModel | None = None
    challenger: ServedModel | None = None


class ModelFollower:
    """The versions `alias` and `challenger_alias` of `model_name` point at, as last polled.

    `served` is one reference replaced whole: a request that reads it once has a champion
    and a challenger from the same poll.
    """

    def __init__(
        self,
        address: RegistryAddress,
        model_name: str,
        alias: str = registry.DEFAULT_ALIAS,
        challenger_alias: str | None = registry.CHALLENGER_ALIAS,
        poll_seconds: float = 5.0,
        load: Callable[[RegistryAddress, ModelVersion], ServedModel] = load_version,
    ):
        self.address, self.model_name = address, registry.check_model_name(model_name)
        self.alias, self.challenger_alias = alias, challenger_alias
        self.poll_seconds, self._load = poll_seconds, load
        self.served = Served()
        self.last_error: str | None = "the registry has not been asked yet"
        self.last_poll: datetime | None = None
        self.polls = self.poll_errors = self.swaps = 0
        self._client: mlflow.MlflowClient | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> None:
        """Ask the registry once and swap in what moved.

        Raises:
            Whatever the registry or the load raised; the models held stay as they were.
        """
        if self._client is None:
            self._client = self.address.client()
        held = self.served
        # A challenger promoted to champion, or a rollback to it, needs no load.
        champion = self._followed(self.alias, held.champion, held.challenger)
        challenger = None
        if self.challenger_alias:
            challenger = self._followed(
                self.challenger_alias, held.challenger, champion, held.champion
            )
        if champion is not held.champion:
            self.swaps += 1
        self.served = Served(champion, None if _same(challenger, champion) else challenger)

    @property
    def champion(self) -> ServedModel | None:
        return self.served.champion

    @property
    def challenger(self) -> ServedModel | None:
        return self.served.challenger

    def _followed(
        self, alias: str, held: ServedModel | None, *others: ServedModel | None
    ) -> ServedModel | None:
        """The model `alias` points at: `held` (or one of `others`) when it is that version,
        else the version loaded now; `held` when the alias is absent (a champion is never
        dropped for an alias that vanished: it keeps serving until one is set again)."""
        version = registry.champion_version(self._client, self.model_name, alias)
        if version is None:
            return held if alias == self.alias else None
        number = int(version.version)
        for candidate in (held, *others):
            if candidate is not None and candidate.version == number:
                return candidate
        return self._load(self.address, version)

    def _run(self) -> None:
        while True:
            self.polls += 1
            try:
                self.poll()
                self.last_error = None
            except Exception as error:  # an outage or a broken version: keep what serves
                self.poll_errors += 1
                self.last_error = f"{type(error).__name__}: {redact_uri(str(error))[:500]}"
            self.last_poll = datetime.now(UTC)
            if self._stop.wait(self.poll_seconds):
                return

    def start(self) -> "ModelFollower":
        """Poll now and then every `poll_seconds`, in a daemon thread, until `stop`."""
        self._thread = threading.Thread(target=self._run, name="model-follower", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def _same(left: ServedModel | None, right: ServedModel | None) -> bool:
    return left is not None and right is not None and left.version == right.version
