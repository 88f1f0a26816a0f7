"""The train/test split of the training table."""

from dagster import AssetExecutionContext, AssetOut, MetadataValue, Output, multi_asset

from training_assets.core import paths
from training_assets.core.data.table_query import TableFile
from training_assets.core.ml.split import Split, split_file
from training_assets.defs.config import SplitConfig
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.tags import OWNERS


@multi_asset(
    group_name="training",
    code_version="2",
    outs={
        "train_x": AssetOut(
            owners=OWNERS, description="Feature columns of the training rows.", kinds={"pandas"}
        ),
        "train_y": AssetOut(
            owners=OWNERS, description="Labels of the training rows.", kinds={"pandas"}
        ),
        "test_x": AssetOut(
            owners=OWNERS, description="Feature columns of the held-out rows.", kinds={"pandas"}
        ),
        "test_y": AssetOut(
            owners=OWNERS, description="Labels of the held-out rows.", kinds={"pandas"}
        ),
        "test_keys": AssetOut(
            owners=OWNERS,
            description="Keys and feature timestamps of the held-out rows, for slicing.",
            kinds={"pandas"},
        ),
    },
)
def splits(
    context: AssetExecutionContext,
    config: SplitConfig,
    training_data: TableFile,
    feast: FeastResource,
):
    """A seeded split of the training table into train and test features (those the feature
    service names, in its order), labels and keys, streamed from its file to theirs."""
    features = feast.training_schema().feature_names
    staged = {
        name: paths.staged_output(context.run.run_id, f"{name}.parquet") for name in Split._fields
    }
    try:
        rows = split_file(
            training_data.path,
            features,
            config.test_size,
            config.random_seed,
            config.strategy,
            staged,
        )
    except BaseException:
        for path in staged.values():
            path.unlink(missing_ok=True)
        raise
    # The parquet IO manager moves each written file into the run's folder.
    for name, path in staged.items():
        yield Output(
            TableFile(str(path)),
            output_name=name,
            metadata={
                "dagster/row_count": rows[name],
                "test_size": config.test_size,
                "random_seed": config.random_seed,
                "strategy": config.strategy,
                "features": MetadataValue.json(list(features)),
            },
        )
