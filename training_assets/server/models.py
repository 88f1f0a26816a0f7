"""The models a server holds: the version each alias it follows points at, loaded once, and
replaced by swapping one reference when the alias moves.

A poller thread asks the registry where `@champion` (and `@challenger`) point every
`poll_seconds`, and which version the champion replaced (`registry.previous_champion`: its move
record, none when it came back by a rollback), scored in shadow as batch scoring does. A version
not yet held is downloaded and loaded beside the one serving, and
only then does the reference change; a request reads the reference once and scores every row
with what it read, so no request mixes two versions and none waits for a load. A registry that
cannot be reached leaves the loaded models serving and is asked again at the next poll; a
server that starts while it is unreachable holds no model until it answers.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
from mlflow.entities.model_registry import ModelVersion

from training_assets.core.features.online import OnlineModel
from training_assets.core.monitoring.prediction_log import CHALLENGER, CHAMPION, PREVIOUS
from training_assets.core.secrets import redact_uri
from training_assets.core.tracking import registry

# The roles the models are served in, named as the prediction log names them.
ROLES = (CHAMPION, CHALLENGER, PREVIOUS)
# A shadow version that failed to load is tried again after this long, not every poll.
PREVIOUS_RETRY_SECONDS = 300.0


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


class ShadowNotLoaded(RuntimeError):
    """A version to score in shadow (the challenger, or the champion the current one replaced)
    could not be read or loaded; what answers moved on without it."""


@dataclass(frozen=True)
class Served:
    """What answers (`champion`) and what is scored in shadow, replaced together:
    `challenger` (None when the alias is absent or points at the champion's version) and
    `previous`, the champion the current one replaced (None when it replaced none, came back
    by a rollback, or the version is the challenger, which is scored as such)."""

    champion: ServedModel | None = None
    challenger: ServedModel | None = None
    previous: ServedModel | None = None

    def shadows(self) -> dict[str, ServedModel]:
        """The models scored in shadow, by role."""
        found = {CHALLENGER: self.challenger, PREVIOUS: self.previous}
        return {role: model for role, model in found.items() if model is not None}

    def models(self) -> tuple[ServedModel | None, ...]:
        return self.champion, self.challenger, self.previous


class ModelFollower:
    """The versions `alias` and `challenger_alias` of `model_name` point at, as last polled,
    and (with `follow_previous`) the champion the current one replaced.

    `served` is one reference replaced whole: a request that reads it once has a champion
    and its shadows from the same poll.
    """

    def __init__(
        self,
        address: RegistryAddress,
        model_name: str,
        alias: str = registry.DEFAULT_ALIAS,
        challenger_alias: str | None = registry.CHALLENGER_ALIAS,
        poll_seconds: float = 5.0,
        load: Callable[[RegistryAddress, ModelVersion], ServedModel] = load_version,
        follow_previous: bool = True,
    ):
        self.address, self.model_name = address, registry.check_model_name(model_name)
        self.alias, self.challenger_alias = alias, challenger_alias
        self.follow_previous = follow_previous
        self.poll_seconds, self._load = poll_seconds, load
        self.served = Served()
        self.last_error: str | None = "the registry has not been asked yet"
        self.last_poll: datetime | None = None
        self.polls = self.poll_errors = self.swaps = 0
        self._client: mlflow.MlflowClient | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Shadow versions that failed to load: why, and when (monotonic seconds); and those
        # of the poll under way.
        self._unloadable: dict[int, tuple[str, float]] = {}
        self._failed_now: list[str] = []

    def poll(self) -> None:
        """Ask the registry once and swap in what moved.

        Raises:
            Whatever the registry or the load raised; the models held stay as they were.
            ShadowNotLoaded: after the swap, when a shadow (the challenger or the previous
                champion) could not be loaded: the champion moved on without it, and it is
                tried again after PREVIOUS_RETRY_SECONDS.
        """
        if self._client is None:
            self._client = self.address.client()
        self._failed_now = []
        held = self.served
        # A challenger promoted to champion, a rollback to the previous one, or a champion
        # that becomes the previous one needs no load.
        at = registry.champion_version(self._client, self.model_name, self.alias)
        # A champion whose alias vanished keeps serving (with its shadows) until one is set.
        champion = held.champion if at is None else self._held_or_loaded(at, *held.models())
        challenger = None
        if self.challenger_alias:
            pointed = registry.champion_version(
                self._client, self.model_name, self.challenger_alias
            )
            if pointed is not None:
                challenger = self._shadow(pointed, "the challenger", champion, *held.models())
        if _same(challenger, champion):
            challenger = None
        number = None
        if self.follow_previous and at is not None:
            number = registry.previous_champion(at, self.alias)
            # Batch scoring's rule (`shadow_versions`): a previous champion that is the
            # challenger is scored as the challenger only.
            if challenger is not None and challenger.version == number:
                number = None
        held_previous = next(
            (m for m in (champion, challenger, *held.models()) if m and m.version == number), None
        )
        if champion is not held.champion:
            self.swaps += 1
        # Swapped in now: the champion never waits for the previous champion's load.
        self.served = Served(
            champion,
            challenger,
            held.previous if at is None else _other(held_previous, champion, challenger),
        )
        if number is not None and held_previous is None:
            previous = self._shadow(number, "the previous champion", champion, challenger)
            self.served = Served(champion, challenger, _other(previous, champion, challenger))
        if self._failed_now:
            raise ShadowNotLoaded("; ".join(self._failed_now))

    def _shadow(
        self, version: ModelVersion | int, role: str, *held: ServedModel | None
    ) -> ServedModel | None:
        """The model of `version` (or its number) to score in shadow as `role`: one of `held`, else
        loaded now; None when it cannot be loaded (said in the poll's error, and tried again
        after PREVIOUS_RETRY_SECONDS, not every poll): what answers moves on without it."""
        number = version if isinstance(version, int) else int(version.version)
        for candidate in held:
            if candidate is not None and candidate.version == number:
                return candidate
        failed = self._unloadable.get(number)
        if failed is not None and time.monotonic() - failed[1] < PREVIOUS_RETRY_SECONDS:
            self._failed_now.append(failed[0])
            return None
        try:
            return self._held_or_loaded(version)
        except Exception as error:  # a shadow never holds the champion back
            why = (
                f"{role}, version {number}, could not be loaded and is not scored in shadow: "
                f"{type(error).__name__}: {error}"
            )
            self._unloadable[number] = (why, time.monotonic())
            self._failed_now.append(why)
            return None

    @property
    def champion(self) -> ServedModel | None:
        return self.served.champion

    @property
    def challenger(self) -> ServedModel | None:
        return self.served.challenger

    @property
    def previous(self) -> ServedModel | None:
        return self.served.previous

    def _held_or_loaded(
        self, version: ModelVersion | int, *held: ServedModel | None
    ) -> ServedModel:
        """The model of `version` (a registered version, or its number): one of `held` when it
        is that version, else the version loaded now."""
        number = int(version) if isinstance(version, int) else int(version.version)
        for candidate in held:
            if candidate is not None and candidate.version == number:
                return candidate
        if isinstance(version, int):
            version = self._client.get_model_version(self.model_name, str(number))
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

    def stop(self, wait: bool = True) -> None:
        """Stop following; with `wait`, until a load in progress ends (up to 30 s)."""
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join(timeout=30)


def _other(model: ServedModel | None, *served: ServedModel | None) -> ServedModel | None:
    """`model`, unless it is one of `served` (the same version), which scores it already."""
    return None if any(_same(model, other) for other in served) else model


def _same(left: ServedModel | None, right: ServedModel | None) -> bool:
    return left is not None and right is not None and left.version == right.version
