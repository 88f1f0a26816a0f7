"""The trained model (the challenger) judged against the champion on the test split, once.

The champion gates' functions (core/gates/catalog.py `evaluate_champion_gates`) run here; the
report shows what they found and the champion gates' checks on `evaluation` report it. It is
upstream of `evaluation`, not downstream: a blocking gate on `evaluation` holds back what is
downstream of it, and a rejected model's report needs its judgement most.
"""

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset

from training_assets.core.data.table_query import TableFile, column_mean
from training_assets.core.gates import catalog
from training_assets.core.gates.champion_gates import ChallengerJudgement
from training_assets.core.records import TrainedModel
from training_assets.defs.resources.gates import GateThresholds
from training_assets.defs.resources.mlflow import MlflowStore, ModelRegistry
from training_assets.defs.tags import OWNERS


@asset(
    owners=OWNERS,
    group_name="training",
    io_manager_key="json_io_manager",
    kinds={"mlflow"},
    code_version="1",
)
def challenger_judgement(
    context: AssetExecutionContext,
    trained_model: TrainedModel,
    test_x: pd.DataFrame,
    test_y: pd.Series,
    test_keys: pd.DataFrame,
    train_y: TableFile,
    gates: GateThresholds,
    mlflow_store: MlflowStore,
    model_registry: ModelRegistry,
) -> ChallengerJudgement:
    """The champion gates' outcomes for the trained model against the champion, which is
    pinned here for `evaluation`, the checks and the registration; with the slices and the
    champion's scores the report shows."""
    client = mlflow_store.configure_client()
    champion = model_registry.champion(client)
    version = None if champion is None else int(champion.version)
    champion_uri = None if version is None else f"models:/{model_registry.model_name}/{version}"
    context.log.info(f"Challenger {trained_model.model_uri} against {champion_uri}")
    judgement = catalog.evaluate_champion_gates(
        client,
        trained_model.model_uri,
        version,
        champion_uri,
        test_x,
        test_y,
        test_keys,
        column_mean(train_y),
        gates.limits(),
    )
    if champion_uri is not None and judgement.champion_scores is None:
        # no_regression_against_champion says why; the run goes on to report it.
        context.log.warning(f"The champion {champion_uri} cannot score this split")
    context.add_output_metadata(
        {
            "champion_version": MetadataValue.int(version)
            if version is not None
            else MetadataValue.text("none yet"),
            "gates_failed": MetadataValue.json(catalog.blocking_failures(judgement.outcomes)),
        }
    )
    return judgement
