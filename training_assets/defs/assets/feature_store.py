"""The applied Feast feature store."""

from dagster import AssetExecutionContext, MetadataValue, asset

from training_assets.defs.resources.feast import FeastResource
from training_assets.defs.tags import OWNERS


@asset(
    owners=OWNERS,
    group_name="training",
    io_manager_key="json_io_manager",
    kinds={"feast"},
    code_version="1",
)
def feature_store(context: AssetExecutionContext, feast: FeastResource) -> dict:
    """The feature repo applied to the registry, as `feast apply` does."""
    with feast.retried_on_outage():
        applied = feast.apply()
    if not applied["applied"]:
        context.log.info(
            f"The registry already holds these definitions (repo digest "
            f"{applied['repo_digest'][:12]}): not applied again"
        )
    context.add_output_metadata(
        {
            "project": applied["project"],
            "applied": applied["applied"],
            "repo_digest": applied["repo_digest"],
            "entities": MetadataValue.json(applied["entities"]),
            "feature_views": MetadataValue.json(applied["feature_views"]),
            "feature_services": MetadataValue.json(applied["feature_services"]),
            "driver_stats_path": MetadataValue.path(applied["driver_stats_path"]),
        }
    )
    return applied
