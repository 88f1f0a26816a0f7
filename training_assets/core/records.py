"""What the training assets hand each other, one frozen dataclass per asset, and their JSON.

The JSON IO manager (defs/resources/io_managers.py) stores these with `dump` and loads them
back as the reading asset's annotated type with `load`, so that a reader learns what an asset
holds from its type, and a misspelt field fails when the module is checked, not mid-run. The
plain script (bench/plain_script.py) writes the same records with the same functions.

The champion gates' judgement, `ChallengerJudgement`, lives beside the gates that make it
(core/gates/champion_gates.py).
"""

from dataclasses import dataclass, fields
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

Record = TypeVar("Record")


class ByPartition(dict):
    """An asset's value for each partition key of a run over several (a day range): the IO
    managers store each where that partition is read from. A plain dict is one value."""


def dump(record: Any) -> dict[str, Any]:
    """`record`, a dataclass of this package, as JSON-ready values (nested dataclasses and
    pydantic models included)."""
    return TypeAdapter(type(record)).dump_python(record, mode="json")


def load(record_type: type[Record], data: Any) -> Record:
    """The `record_type` that `dump` stored as `data`.

    Raises:
        ValueError: naming the record type and each field that is missing or of another type.
    """
    try:
        return TypeAdapter(record_type).validate_python(data)
    except ValidationError as error:
        found = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or 'the record'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ValueError(f"not a {record_type.__name__} record: {found}") from None


@dataclass(frozen=True)
class TrainedModel:
    """The model `trained_model` logged: its MLflow run and logged model."""

    run_id: str
    model_uri: str  # models:/m-..., the logged model (not a registered version)
    model_id: str | None
    experiment_id: str


@dataclass(frozen=True)
class Evaluation:
    """The trained model's scores on the test split (core/ml/metrics.py `regression_metrics`)
    and the champion version it was judged against (None: there was none yet)."""

    run_id: str
    model_uri: str
    champion_version: int | None
    rmse: float
    mae: float
    r2: float
    baseline_rmse: float  # of predicting the training labels' mean
    test_rows: int
    # Of the predictions read as probabilities, when the test labels are 0 and 1.
    auc: float | None = None
    log_loss: float | None = None
    brier: float | None = None

    @classmethod
    def of(
        cls, model: TrainedModel, champion_version: int | None, metrics: dict[str, float]
    ) -> "Evaluation":
        """The evaluation of `model` from `regression_metrics`' figures."""
        return cls(
            run_id=model.run_id,
            model_uri=model.model_uri,
            champion_version=champion_version,
            **metrics,
        )

    def metrics(self) -> dict[str, float]:
        """The scores by name, as `regression_metrics` returned them (the metric gates' input)."""
        names = [f.name for f in fields(self) if f.name not in _NOT_SCORES]
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


_NOT_SCORES = frozenset({"run_id", "model_uri", "champion_version"})


@dataclass(frozen=True)
class ModelReport:
    """Where the model's report is, and what the gates it shows said."""

    run_id: str
    report: str  # the artifact's location: <run's artifact URI>/model_report.html
    verdict: str  # core/tracking/evidence.py PASSED or REJECTED
    gates_failed: list[str]


@dataclass(frozen=True)
class RegisteredModelVersion:
    """The registry version of a model that passed every gate."""

    name: str
    version: int
    alias: str
    challenger_alias: str | None
    promotion: str  # "automatic", "manual" or "shadow"
    # The version this run registered, or, when nothing new was registered (unchanged), the
    # champion's or challenger's that it equals.
    model_uri: str
    run_id: str
    trained_run_id: str  # the run that trained this run's model
    rmse: float
    outcome: str  # core/tracking/registry.py: registered, already registered or unchanged


@dataclass(frozen=True)
class ChampionModel:
    """The version in production (@champion), and how it got there; `version` is None before
    the first promotion."""

    name: str
    alias: str
    version: int | None
    challenger_version: int | None
    model_uri: str | None = None
    run_id: str | None = None
    moved_now: bool = False  # by this run (promote_model_job, rollback_model_job)
    moved_by: str = ""
    moved_at: str = ""
    reason: str = ""
    previous: str = ""  # the version before, as the alias history recorded it
