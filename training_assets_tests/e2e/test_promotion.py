"""Manual promotion and rollback through the Dagster jobs a user launches from the UI, on the
real Feast repo, MLflow store and instance: with `promotion: manual`, a gated model waits as
@challenger and @champion moves only when promote_model_job runs; rollback_model_job moves it
back; champion_model records each state with its data version."""

from dagster import AssetKey, DagsterEventType

from training_assets.core.tracking.registry import LINEAGE_PREFIX
from training_assets.definitions import defs
from training_assets_tests.e2e.test_pipeline import MODEL_NAME, run_training

MANUAL = {"resources": {"model_registry": {"config": {"promotion": "manual"}}}}


def aliases(client) -> tuple[int, int]:
    return tuple(
        int(client.get_model_version_by_alias(MODEL_NAME, alias).version)
        for alias in ("champion", "challenger")
    )


def launch(instance, job_name: str, **config):
    job = defs.resolve_job_def(job_name)
    run_config = {"ops": {"champion_model": {"config": config}}} if config else None
    return job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)


def champion_data_version(instance) -> str:
    event = instance.get_latest_materialization_event(AssetKey("champion_model"))
    return event.asset_materialization.tags["dagster/data_version"]


def test_manual_promotion_waits_for_the_promote_job_and_rollback_undoes_it(
    working_area, instance, mlflow_client
):
    assert run_training(instance).success  # automatic: v1 is champion and challenger
    second = run_training(instance, MANUAL)

    assert second.success
    assert second.output_for_node("registered_model_version")["version"] == 2
    assert aliases(mlflow_client) == (1, 2), "manual: the champion must not move by itself"
    reported = second.output_for_node("champion_model")
    assert (reported["version"], reported["challenger_version"]) == (1, 2)
    assert not reported["moved_now"]
    assert champion_data_version(instance) == f"{MODEL_NAME}/1"

    promoted = launch(instance, "promote_model_job", action="promote", reason="report read")

    assert promoted.success
    assert aliases(mlflow_client) == (2, 2)
    record = promoted.output_for_node("champion_model")
    assert record["moved_now"] and record["previous"] == "1"
    assert record["moved_by"] == f"promote_model_job run {promoted.run_id}"
    tags = mlflow_client.get_model_version(MODEL_NAME, "2").tags
    assert tags[f"{LINEAGE_PREFIX}champion.reason"] == "report read"
    assert champion_data_version(instance) == f"{MODEL_NAME}/2"

    rolled = launch(instance, "rollback_model_job", action="rollback", reason="bad canary")

    assert rolled.success
    assert aliases(mlflow_client) == (1, 2)
    assert (
        rolled.output_for_node("champion_model")["reason"] == "rollback from version 2: bad canary"
    )
    history = (
        instance.get_latest_materialization_event(AssetKey("champion_model"))
        .asset_materialization.metadata["alias_history"]
        .value
    )
    assert "bad canary" in history and "report read" in history


def test_promoting_a_version_that_does_not_exist_fails_and_moves_nothing(
    working_area, instance, mlflow_client
):
    assert run_training(instance).success

    result = launch(instance, "promote_model_job", action="promote", version=7, reason="typo")

    assert not result.success
    failure = next(
        event for event in result.all_events if event.event_type == DagsterEventType.STEP_FAILURE
    )
    assert f"{MODEL_NAME} has no version 7" in failure.step_failure_data.error.message
    assert aliases(mlflow_client) == (1, 1)


def test_the_first_model_under_manual_promotion_waits_with_no_champion(
    working_area, instance, mlflow_client
):
    first = run_training(instance, MANUAL)

    assert first.success
    reported = first.output_for_node("champion_model")
    assert reported["version"] is None and reported["challenger_version"] == 1
    assert [
        a
        for v in mlflow_client.search_model_versions(f"name='{MODEL_NAME}'")
        for a in mlflow_client.get_model_version(MODEL_NAME, v.version).aliases
    ] == ["challenger"]

    assert launch(instance, "promote_model_job", action="promote", reason="first").success
    assert aliases(mlflow_client) == (1, 1)
