"""The train/test split of the training table."""

from dagster import AssetExecutionContext, AssetOut, MetadataValue, Output, multi_asset

from training_assets.core.data.table_query import TableFile
from training_assets.core.ml.split import split_file
from training_assets.defs.config import SplitConfig
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.tags import OWNERS


@multi_asset(
    group_name="training",
    code_version="1",
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
    service names, in its order), labels and keys, read from its file a column at a time."""
    features = feast.training_schema().feature_names
    split = split_file(
        training_data.path, features, config.test_size, config.random_seed, config.strategy
    )
    for name, value in split._asdict().items():
        yield Output(
            value,
            output_name=name,
            metadata={
                "dagster/row_count": len(value),
                "test_size": config.test_size,
                "random_seed": config.random_seed,
                "strategy": config.strategy,
                "features": MetadataValue.json(list(features)),
            },
        )
