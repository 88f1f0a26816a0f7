"""What shows that a registered version is the model of a gated training run.

Tags prove nothing by themselves: anyone who can write to the registry can set
`training_assets.registration=complete` on a version, or copy every tag of a gated version onto
one registered by hand. A version counts as gated only when:

- its source is the model its own run logged (MLflow records which run logged a model; no tag
  changes that);
- that run carries the verdict the pipeline records when every gate passed;
- the run's lineage tags (data, code and config) equal the version's;
- and, when the code location's environment holds a signing key, the version carries an
  HMAC-SHA256 over (model name, version, run id, source, verdict) made with that key when it was
  registered. Only a process that holds the key can make one, and one copied from another
  version names another version and source.

Without a key, the first three still hold, and what stops someone from forging them is who may
write to the registry (MLflow's permissions on the tracking server).
"""

import hashlib
import hmac
import json

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from training_assets.core import settings
from training_assets.core.tracking.lineage import (
    DATA_LINEAGE_KEYS,
    LINEAGE_PREFIX,
    REPRODUCIBILITY_KEYS,
)

# The verdict of the gates, recorded on the model's MLflow run by its report and by the
# registration (which only a run whose gates passed reaches).
VERDICT_TAG = f"{LINEAGE_PREFIX}gate_verdict"
PASSED, REJECTED = "passed", "rejected"

SIGNATURE_TAG = f"{LINEAGE_PREFIX}signature"
SIGNING_KEY_ENV = settings.SIGNING_KEY_ENV
# The signatures are readable by anyone who can read the registry; a short key could be found
# from them by trying keys offline.
MIN_KEY_CHARS = 32

# The run's tags that say which data, code and config made the model; the version is given a
# copy at registration, so the two must agree.
LINEAGE_KEYS = tuple(
    f"{LINEAGE_PREFIX}{key}"
    for key in dict.fromkeys(
        ("dagster_run_id", "git_commit", *REPRODUCIBILITY_KEYS, *DATA_LINEAGE_KEYS)
    )
)


def configured_signing_key() -> bytes | None:
    """The signing key in the code location's environment (`TRAINING_ASSETS_SIGNING_KEY`), or
    None when it is unset or empty. Read when asked, never at import.

    Raises:
        ValueError: when the key is shorter than MIN_KEY_CHARS; the message never shows it.
    """
    key = settings.signing_key()
    if not key:
        return None
    if len(key) < MIN_KEY_CHARS:
        raise ValueError(
            f"{SIGNING_KEY_ENV} is {len(key)} characters; it must be at least {MIN_KEY_CHARS} "
            "(for example the output of `python -c 'import secrets; "
            "print(secrets.token_hex(32))'`)"
        )
    return key.encode()


def signature(key: bytes, model_name: str, version: int | str, run_id: str, source: str) -> str:
    """The HMAC-SHA256 (hex) of a gated version: its name, number, run, source and verdict."""
    # A JSON list, so that no two tuples of fields give the same bytes.
    message = json.dumps([model_name, str(version), run_id, source, PASSED]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(client: mlflow.MlflowClient, version: ModelVersion, key: bytes) -> None:
    """Write the signature of `version` as its tag `training_assets.signature`."""
    client.set_model_version_tag(
        version.name,
        version.version,
        SIGNATURE_TAG,
        signature(key, version.name, version.version, version.run_id, version.source),
    )


def missing_evidence(
    client: mlflow.MlflowClient, version: ModelVersion, key: bytes | None
) -> list[str]:
    """What `version` lacks to count as the model of a gated run, each as expected against
    found; empty when nothing is missing. The signature is checked only with a `key`."""
    failures = []
    run_id = version.run_id or ""
    run_tags = _run_tags(client, run_id)
    if run_tags is None:
        failures.append(f"run: expected the MLflow run that logged the model, found {run_id!r}")
        run_tags = {}
    else:
        failures += _source_failures(client, version.source or "", run_id)
        verdict = run_tags.get(VERDICT_TAG)
        if verdict != PASSED:
            failures.append(
                f"gate verdict: expected {VERDICT_TAG}={PASSED!r} on run {run_id}, "
                f"found {verdict!r}"
            )
        for tag in LINEAGE_KEYS:
            if run_tags.get(tag) != version.tags.get(tag):
                failures.append(
                    f"lineage: expected {tag}={run_tags.get(tag)!r} as on run {run_id}, "
                    f"found {version.tags.get(tag)!r}"
                )
    if key is not None:
        expected = signature(key, version.name, version.version, run_id, version.source or "")
        found = version.tags.get(SIGNATURE_TAG)
        if found is None or not hmac.compare_digest(expected, found):
            # The expected signature is never shown: it could be copied onto the version.
            failures.append(
                f"signature: expected {SIGNATURE_TAG} made with {SIGNING_KEY_ENV} over "
                f"({version.name}, {version.version}, {run_id}, {version.source}, {PASSED}), "
                f"found {'none' if found is None else 'another'}"
            )
    return failures


def _run_tags(client: mlflow.MlflowClient, run_id: str) -> dict[str, str] | None:
    if not run_id:
        return None
    try:
        return client.get_run(run_id).data.tags
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def _source_failures(client: mlflow.MlflowClient, source: str, run_id: str) -> list[str]:
    """The source must be `models:/<id>` of a model that `run_id` logged: MLflow records the
    logging run on the model itself."""
    expected = f"expected the model logged by run {run_id} (models:/<model id>)"
    model_id = source.removeprefix("models:/")
    if not source.startswith("models:/") or not model_id or "/" in model_id:
        return [f"source: {expected}, found {source!r}"]
    try:
        logged_by = client.get_logged_model(model_id).source_run_id
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return [f"source: {expected}, found {source!r}, which is no logged model"]
    if logged_by != run_id:
        return [f"source: {expected}, found {source!r}, logged by run {logged_by}"]
    return []
