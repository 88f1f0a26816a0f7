"""Figures as Dagster metadata values of their own kind, so the UI plots them and shows a count
as a count."""

from dagster import MetadataValue


def score_metadata(metrics: dict[str, float | int]) -> dict[str, MetadataValue]:
    """Each score as a float and each count (`test_rows`) as an integer."""
    return {name: _number(value) for name, value in metrics.items()}


def _number(value: float | int) -> MetadataValue:
    if isinstance(value, int) and not isinstance(value, bool):
        return MetadataValue.int(value)
    return MetadataValue.float(float(value))
