"""Training/serving skew: the online store against the offline point-in-time features."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, MetadataValue, asset_check

from training_assets.core.features import online
from training_assets.core.gates.catalog import SKEW_GATE
from training_assets.defs.assets.online_features import online_features
from training_assets.defs.resources.feast import FeastResource

# Keys listed in the metadata; the count says how many differ in all.
_LISTED = 50


@asset_check(asset=online_features, name=SKEW_GATE.name, description=SKEW_GATE.description)
def online_matches_offline(
    context: AssetCheckExecutionContext, feast: FeastResource
) -> AssetCheckResult:
    with feast.retried_on_outage():
        report = online.skew(feast.store(), feast.feature_service)
    differing = report["differing"]
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
        },
        description=(
            f"{len(drivers)} driver(s) served values that differ from the offline features: "
            f"{drivers[:10]}"
            if differing
            else None
        ),
    )
