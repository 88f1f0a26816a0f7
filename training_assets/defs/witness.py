"""The Dagster instance as the witness of registrations.

Everything a version carries in MLflow (its source, its run's verdict and lineage tags) can be
written by anyone who may write to the registry: log a model in a run of one's own, register
it, copy every tag of a gated version and its run. Without a signing key those copies pass
every check made of the registry alone. The instance's event log is not written through
MLflow: a version that a gated run registered appears there as a materialization of
`registered_model_version` naming the version's number, its MLflow run and its source.
"""

from dagster import AssetKey, DagsterInstance
from mlflow.entities.model_registry import ModelVersion

from training_assets.core.tracking.registry import ALREADY_REGISTERED, REGISTERED, UNCHANGED
from training_assets.defs.instance_reads import retried

REGISTRATION = AssetKey("registered_model_version")
# How many of the latest registrations are searched: a promotion or rollback reaches back to
# a recent version, and a search without a bound would read the whole history each time.
SEARCHED = 1000
_OUTCOMES = {REGISTERED, ALREADY_REGISTERED, UNCHANGED}


def registration_witness(instance: DagsterInstance, model_name: str):
    """A witness (`registry.Witness`) that asks `instance` whether one of its runs registered
    the version, or found it registered, after its gates passed."""

    def witness(version: ModelVersion) -> str | None:
        records = retried(
            lambda: instance.fetch_materializations(REGISTRATION, limit=SEARCHED).records,
            "registrations",
        )
        for record in records:
            found = record.asset_materialization
            metadata = {} if found is None else found.metadata
            if (
                _value(metadata, "model_name", model_name) == model_name
                and str(_value(metadata, "version")) == str(version.version)
                and _value(metadata, "mlflow_run_id") == version.run_id
                and _value(metadata, "model_uri") == version.source
                and _value(metadata, "outcome") in _OUTCOMES
            ):
                return None
        return (
            f"no run of this Dagster instance registered it (expected a materialization of "
            f"{REGISTRATION.to_user_string()} naming version {version.version}, MLflow run "
            f"{version.run_id} and source {version.source}; found none among the latest "
            f"{len(records)})"
        )

    return witness


def _value(metadata: dict, key: str, default=None):
    entry = metadata.get(key)
    return default if entry is None else entry.value
