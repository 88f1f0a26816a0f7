"""The serving side's partitions: one per UTC day of the requests' event time
(core/monitoring/days.py), from the first day of the sample's orders to today included, so a
day can be rescored, re-evaluated and backfilled from the UI."""

from dagster import DailyPartitionsDefinition

from training_assets.core.monitoring.days import FIRST_DAY

serving_days = DailyPartitionsDefinition(
    start_date=FIRST_DAY.isoformat(), timezone="UTC", end_offset=1
)
