"""The entity every feature in this repo is keyed on."""

from feast import Entity, ValueType

driver = Entity(
    name="driver",
    join_keys=["driver_id"],
    value_type=ValueType.INT64,
    description="A driver, identified by driver_id.",
)
