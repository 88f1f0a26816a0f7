"""The online store, loaded from the offline data for serving."""

from dagster import AssetExecutionContext, MetadataValue, asset

from training_assets.defs.assets.feature_store import feature_store
from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.tags import OWNERS


@asset(
    owners=OWNERS,
    group_name="serving",
    deps=[feature_store, "driver_stats_source"],
    kinds={"feast"},
    code_version="2",
)
def online_features(context: AssetExecutionContext, feast: FeastResource) -> None:
    """The newest feature values of the model's FeatureService in Feast's online store (sqlite
    on the embedded defaults, Redis on the production profile), as `feast materialize` loads
    them: the data's whole range the first time, then incrementally; in full again when the
    store lost its data. Each load is recorded in the online store itself."""
    with feast.retried_on_outage():
        loaded = feast.materialize_online()
    for view in loaded:
        line = f"{view['view']}: {view['how']}" + (
            f", {view['start']} to {view['end']}" if view["start"] else ""
        )
        # A reload means the store had lost what the registry says was loaded: worth seeing.
        (context.log.warning if view["how"].startswith("reload") else context.log.info)(line)
    context.add_output_metadata(
        {
            # The type only: a Redis connection string carries its password in plain text.
            "online_store": feast.store().config.online_store.type,
            "views": MetadataValue.json(loaded),
            "reloaded_views": MetadataValue.json(
                [view["view"] for view in loaded if view["how"].startswith("reload")]
            ),
        }
    )
