"""What the UI is told about the assets that failed gates held back: read back through Dagster's
GraphQL API, as the web UI reads it, after runs started the way users start them."""

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from training_assets.core import paths
from training_assets.definitions import defs
from training_assets.defs import held_back
from training_assets_tests.e2e.cli import cli_run, finish, open_instance

MODEL_NAME = "sklearn-elastic-net-reg"
HELD_BACK = ("registered_model_version", "champion_model")

EVENTS = """
query ($keys: [AssetKeyInput!]!) {
  assetsLatestInfo(assetKeys: $keys) {
    assetKey { path }
    latestRun { id status }
    latestMaterialization { runId }
  }
  assetsOrError(assetKeys: $keys) { ... on AssetConnection { nodes {
    key { path }
    assetEventHistory(limit: 5, eventTypeSelectors: [MATERIALIZATION, OBSERVATION]) {
      results {
        __typename
        ... on ObservationEvent {
          runId
          description
          metadataEntries {
            label
            ... on JsonMetadataEntry { jsonString }
            ... on IntMetadataEntry { intValue }
            ... on TextMetadataEntry { text }
          }
        }
      }
    }
  } } }
}
"""


def asset_events(instance, names) -> tuple[dict, dict]:
    """The latest run and the newest events of each asset in `names`, as the web UI gets them."""
    location = Path(__file__).with_name("defs_location.py")
    with define_out_of_process_context(str(location), "defs", instance) as context:
        result = execute_dagster_graphql(
            context, EVENTS, variables={"keys": [{"path": [name]} for name in names]}
        )
    latest = {info["assetKey"]["path"][0]: info for info in result.data["assetsLatestInfo"]}
    events = {
        node["key"]["path"][0]: node["assetEventHistory"]["results"]
        for node in result.data["assetsOrError"]["nodes"]
    }
    return latest, events


def test_a_rejected_challenger_is_shown_held_back_with_the_champion_unchanged(
    working_area, home, instance, mlflow_client
):
    first = defs.resolve_job_def("training_job").execute_in_process(instance=instance)
    assert first.success
    worse = {"ops": {"trained_model": {"config": {"alpha": 3.0}}}}

    process, log = cli_run(working_area, home, "worse", config=worse)

    # The gates' rejection still fails the run: scripts that launch training rely on it.
    assert finish(process, log) != 0, log.read_text()[-3000:]
    # Nothing registered, nothing moved.
    assert len(mlflow_client.search_model_versions(f"name='{MODEL_NAME}'")) == 1
    assert int(mlflow_client.get_model_version_by_alias(MODEL_NAME, "champion").version) == 1
    with open_instance(home) as cli_instance:
        latest, events = asset_events(cli_instance, HELD_BACK)
    for name in HELD_BACK:
        rejected = latest[name]["latestRun"]
        assert rejected["status"] == "FAILURE" and rejected["id"] != first.run_id
        newest = events[name][0]
        # The newest event of the asset, beside the run that failed, says why.
        assert newest["__typename"] == "ObservationEvent", events[name]
        assert newest["runId"] == rejected["id"]
        description = newest["description"]
        assert held_back.OUTCOME in description
        assert "no_regression_against_champion" in description
        assert "the production champion is unchanged: version 1" in description
        entries = {entry["label"]: entry for entry in newest["metadataEntries"]}
        assert entries["outcome"]["text"] == held_back.OUTCOME
        assert entries["champion_version"]["intValue"] == 1
        assert "no_regression_against_champion" in entries["held_back_by"]["jsonString"]


def test_a_run_that_failed_for_another_reason_is_not_called_held_back(working_area, home):
    # Orders that do not exist: the join fails, no gate does. What it skipped did fail.
    config = {"resources": {"orders_source": {"config": {"orders_path": "/nonexistent/o.csv"}}}}

    process, log = cli_run(working_area, home, "broken", config=config)

    assert finish(process, log) != 0
    with open_instance(home) as cli_instance:
        [run] = cli_instance.get_runs()
        assert held_back.held_back(cli_instance, run.run_id) == []
        _, events = asset_events(cli_instance, HELD_BACK)
    assert all(not found for found in events.values()), events


def write_every_stats_row_late() -> None:
    """Every stats row stamped as written a year after its time: a backfill."""
    stats_path = paths.default_driver_stats_path()
    stats = pd.read_parquet(stats_path)
    stats["created"] = stats["created"] + pd.Timedelta(days=365)
    stats.to_parquet(stats_path, index=False)


@pytest.mark.parametrize(("setting", "registered"), [("0", 1), ("1", 0)])
def test_late_features_hold_back_registration_only_when_the_code_location_says_so(
    working_area, home, mlflow_client, setting, registered
):
    write_every_stats_row_late()

    process, log = cli_run(
        working_area, home, "late", env={"TRAINING_ASSETS_LATE_FEATURES_BLOCK": setting}
    )

    code = finish(process, log)
    assert len(mlflow_client.search_model_versions(f"name='{MODEL_NAME}'")) == registered
    with open_instance(home) as cli_instance:
        [run] = cli_instance.get_runs()
        late = cli_instance.get_latest_asset_check_evaluation_record(
            AssetCheckKey(AssetKey("training_data"), "features_created_before_order")
        ).event.asset_check_evaluation
        observed = held_back.held_back(cli_instance, run.run_id)
    assert not late.passed
    if setting == "0":
        assert code == 0, log.read_text()[-3000:]
        assert (late.blocking, late.severity) == (False, AssetCheckSeverity.WARN)
        assert observed == []
    else:
        assert code != 0
        assert (late.blocking, late.severity) == (True, AssetCheckSeverity.ERROR)
        assert {o.asset_key.to_user_string() for o in observed} >= {
            *HELD_BACK,
            "train_x",
            "trained_model",
        }
        assert "features_created_before_order failed" in observed[0].description
        assert "there is no champion yet" in observed[0].description
