"""The training table's columns: the keys, label and provenance declared here, and the
features as the configured Feast FeatureService names them.

The features are not listed in code. `feature_repo/` declares them (name, Feast type,
description and valid range as field tags) and `TrainingSchema` carries what the service names
to the join, the gates, the split and the model. Adding a feature to the service trains on it.
"""

import math
from dataclasses import dataclass, field, replace
from typing import Any

# The offline store names its provenance columns; the pipeline takes their prefix from here.
from feast_asof import PROVENANCE_PREFIX as PROVENANCE_PREFIX

ENTITY_KEY = "driver_id"
EVENT_TIMESTAMP = "event_timestamp"
LABEL = "trip_completed"

# Provenance of the joined feature rows: the latest timestamp and created time of the rows an
# order was joined with. The offline store returns them per view (columns named from
# PROVENANCE_PREFIX); the training table keeps them so that the point-in-time gates can prove
# no order saw a feature row from its future or one written after it. Never model inputs.
FEATURE_TIMESTAMP = "feature_timestamp"
FEATURE_CREATED = "feature_created"

# Columns of the orders (label) files that users provide.
ORDERS_DTYPES = {
    ENTITY_KEY: "int64",
    EVENT_TIMESTAMP: "datetime64[ns, UTC]",
    LABEL: "int64",
}

# The FeatureService trained on unless the feast resource names another.
FEATURE_SERVICE = "driver_activity_model"

# The training table keeps the orders' columns first and the join's provenance last, around
# the features. The join's timestamp unit varies by engine, so times are UTC nanoseconds.
PROVENANCE_DTYPES = {
    FEATURE_TIMESTAMP: "datetime64[ns, UTC]",
    FEATURE_CREATED: "datetime64[ns, UTC]",
}

# Feature tags in feature_repo/ that declare a feature's valid range (inclusive).
MIN_TAG = "min"
MAX_TAG = "max"


@dataclass(frozen=True)
class FeatureSpec:
    """One model input as the feature repo declares it.

    Attributes:
        dtype: The pandas dtype of the feature view's declared type (float32, int64, ...).
            An integer feature with nulls (an order with no feature row) loads into pandas as
            float64; the dtype gate accepts that when every present value is a whole number
            that fits.
        minimum, maximum: The valid range, inclusive; None where unbounded.
    """

    name: str
    dtype: str
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""

    def contains(self, low: float, high: float) -> bool:
        """Whether values from `low` to `high` all lie in the valid range."""
        return (self.minimum is None or low >= self.minimum) and (
            self.maximum is None or high <= self.maximum
        )

    def range_text(self) -> str:
        low = "-inf" if self.minimum is None else f"{self.minimum:g}"
        high = "inf" if self.maximum is None else f"{self.maximum:g}"
        return f"[{low}, {high}]"


@dataclass(frozen=True)
class TrainingSchema:
    """The training table's columns and dtypes: keys and label, the features of `service`
    in its order (the model's input order), and the join's provenance."""

    service: str
    features: tuple[FeatureSpec, ...] = field(default_factory=tuple)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    @property
    def dtypes(self) -> dict[str, str]:
        """Every column's dtype, in table order."""
        return {
            **ORDERS_DTYPES,
            **{feature.name: feature.dtype for feature in self.features},
            **PROVENANCE_DTYPES,
        }

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.dtypes)

    def with_ranges(
        self, minimums: dict[str, float] | None = None, maximums: dict[str, float] | None = None
    ) -> "TrainingSchema":
        """This schema with the ranges that config sets in place of the repo's.

        Raises:
            ValueError: naming a configured feature that the service does not name.
        """
        minimums, maximums = dict(minimums or {}), dict(maximums or {})
        unknown = sorted((set(minimums) | set(maximums)) - set(self.feature_names))
        if unknown:
            raise ValueError(
                f"feature ranges are set for {unknown}, which feature service "
                f"{self.service!r} does not name; its features are {list(self.feature_names)}"
            )
        return replace(
            self,
            features=tuple(
                replace(
                    feature,
                    minimum=minimums.get(feature.name, feature.minimum),
                    maximum=maximums.get(feature.name, feature.maximum),
                )
                for feature in self.features
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for metadata and lineage."""
        return {
            "service": self.service,
            "features": [
                {
                    "name": f.name,
                    "dtype": f.dtype,
                    "minimum": f.minimum,
                    "maximum": f.maximum,
                    "description": f.description,
                }
                for f in self.features
            ],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "TrainingSchema":
        return cls(raw["service"], tuple(FeatureSpec(**f) for f in raw["features"]))


def parse_bound(feature: str, tag: str, value: str | float | None) -> float | None:
    """A range tag's value as a float, None when absent.

    Raises:
        ValueError: naming the feature, the tag and the value when it is not a number.
    """
    if value is None or value == "":
        return None
    try:
        bound = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"feature {feature!r}: tag {tag!r} must be a number, found {value!r}"
        ) from None
    if math.isnan(bound):
        raise ValueError(f"feature {feature!r}: tag {tag!r} must be a number, found {value!r}")
    return bound


@dataclass(frozen=True)
class FeatureSource:
    """Where a feature view of the service reads its rows: the file and its time columns.

    Attributes:
        view: The feature view's name.
        path: The parquet file (a local path or an fsspec URL).
        timestamp: The column of the time each row describes.
        created: The column of the time each row was written; None when the view has none.
        keys: The join key columns, as the file names them.
    """

    view: str
    path: str
    timestamp: str
    created: str | None = None
    keys: tuple[str, ...] = ()
