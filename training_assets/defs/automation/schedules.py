"""Timed retraining, for teams that want it on top of the sensors."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from training_assets.defs.automation.jobs import training_job

weekly_training_schedule = ScheduleDefinition(
    name="weekly_training_schedule",
    job=training_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Retrains every Monday at 03:00 UTC; off until turned on in the UI.",
)
