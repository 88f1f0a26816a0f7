"""The training schema's columns and its range overrides (training_assets.core.schema)."""

import pytest

from training_assets.core.schema import (
    FEATURE_CREATED,
    FEATURE_TIMESTAMP,
    ORDERS_DTYPES,
    FeatureSpec,
    TrainingSchema,
    parse_bound,
)

SCHEMA = TrainingSchema(
    "svc", (FeatureSpec("rate", "float32", 0.0, 1.0), FeatureSpec("trips", "int32", 0.0))
)


def test_columns_are_the_orders_then_the_features_then_the_provenance():
    assert SCHEMA.columns == (*ORDERS_DTYPES, "rate", "trips", FEATURE_TIMESTAMP, FEATURE_CREATED)
    assert SCHEMA.dtypes["trips"] == "int32"


def test_configured_ranges_replace_the_repos_and_keep_the_rest():
    narrowed = SCHEMA.with_ranges(minimums={"trips": 1}, maximums={"trips": 500})

    assert narrowed.features == (
        FeatureSpec("rate", "float32", 0.0, 1.0),
        FeatureSpec("trips", "int32", 1, 500),
    )


def test_a_range_for_a_feature_the_service_does_not_name_is_refused():
    with pytest.raises(ValueError, match=r"\['trip'\], which feature service 'svc' does not"):
        SCHEMA.with_ranges(maximums={"trip": 5})


def test_the_schema_survives_its_json_form():
    assert TrainingSchema.from_dict(SCHEMA.to_dict()) == SCHEMA


@pytest.mark.parametrize("value", ["x", "nan", "1,5"])
def test_a_bound_that_is_no_number_is_named(value):
    with pytest.raises(
        ValueError, match=f"feature 'f': tag 'min' must be a number, found '{value}'"
    ):
        parse_bound("f", "min", value)
