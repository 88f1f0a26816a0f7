"""Training/serving skew: the online store against the offline point-in-time features."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, MetadataValue, asset_check

from training_assets.core.features import online
from training_assets.core.gates.catalog import SKEW_GATE
from training_assets.defs.assets.online_features import online_features
from training_assets.defs.resources.feast import FeastResource

# Keys listed in the metadata; the count says how many differ in all.
_LISTED = 50
WITHDRAWN_BECAUSE = "store differed from the offline features"


@asset_check(
    asset=online_features,
    name=SKEW_GATE.name,
    description=SKEW_GATE.description,
    blocking=SKEW_GATE.blocking,
)
def online_matches_offline(
    context: AssetCheckExecutionContext, feast: FeastResource
) -> AssetCheckResult:
    store = feast.store()
    with feast.retried_on_outage():
        report = online.skew(store, feast.feature_service)
        differing = report["differing"]
        # A store that differs is not served from until it is reloaded in full, which the
        # next online_features run does for the views withdrawn here.
        withdrawn = (
            online.withdraw_views(
                store,
                feast.feature_service,
                sorted({entry["feature"] for entry in differing}),
                WITHDRAWN_BECAUSE,
            )
            if differing
            else []
        )
    drivers = sorted({entry["driver_id"] for entry in differing})
    return AssetCheckResult(
        passed=not differing,
        metadata={
            "moment": report["moment"],
            "compared_drivers": report["compared"],
            "expired_drivers": report["expired"],
            "differing_values": len(differing),
            "differing_drivers": MetadataValue.json(drivers[:_LISTED]),
            "differences": MetadataValue.json(differing[:_LISTED]),
            "withdrawn_views": MetadataValue.json(withdrawn),
        },
        description=(
            f"{len(drivers)} driver(s) served values that differ from the offline features: "
            f"{drivers[:10]}. Views {withdrawn} are withdrawn from serving until "
            "online_features reloads them in full."
            if differing
            else None
        ),
    )
