"""The drift gate on the training table: its features and label rate against the champion's
training data. With no champion yet it passes with a note saying so."""

from dagster import multi_asset_check

from training_assets.core.data.table_query import TableFile
from training_assets.core.gates.catalog import DRIFT_GATE, evaluate_drift_gate
from training_assets.defs.checks.results import check_result, check_spec
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.resources.gates import GateThresholds
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry


@multi_asset_check(specs=[check_spec(DRIFT_GATE)])
def drift_within_limits(
    training_data: TableFile,
    gates: GateThresholds,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
    feast: FeastResource,
):
    """Feature PSI and label rate against the champion's training data: warn, then block."""
    client = mlflow_store.configure_client()
    champion = model_registry.champion(client)
    with feast.table_query(training_data) as table:
        outcome = evaluate_drift_gate(
            client, table, feast.training_schema(), champion, gates.limits()
        )
    yield check_result(DRIFT_GATE.name, outcome)
