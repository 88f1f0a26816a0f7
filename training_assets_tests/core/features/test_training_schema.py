"""The training schema read from a FeatureService: feast_repo.training_schema and applied_schema."""

from datetime import timedelta
from pathlib import Path

import pytest
from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float32, Float64, Int32, Int64, String

from training_assets.core import paths
from training_assets.core.features import feast_repo
from training_assets.core.schema import FEATURE_SERVICE, FeatureSpec

DRIVER = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
SOURCE = FileSource(name="stats", path="stats.parquet", timestamp_field="datetime")


def service(*fields: Field, name: str = "svc") -> FeatureService:
    view = FeatureView(
        name="stats", entities=[DRIVER], ttl=timedelta(days=1), schema=list(fields), source=SOURCE
    )
    return FeatureService(name=name, features=[view])


def test_types_ranges_and_descriptions_come_from_the_fields_in_service_order():
    schema = feast_repo.training_schema(
        service(
            Field(name="b", dtype=Int64, tags={"min": "0"}, description="bee"),
            Field(name="a", dtype=Float64, tags={"min": "-1.5", "max": "2e3"}),
            Field(name="c", dtype=Float32),
            Field(name="d", dtype=Int32, tags={"owner": "team"}),
        )
    )

    assert schema.service == "svc"
    assert schema.features == (
        FeatureSpec("b", "int64", 0.0, None, "bee"),
        FeatureSpec("a", "float64", -1.5, 2000.0, ""),
        FeatureSpec("c", "float32"),
        FeatureSpec("d", "int32"),
    )


def test_a_service_naming_some_of_a_views_features_trains_on_those_only():
    view = FeatureView(
        name="stats",
        entities=[DRIVER],
        ttl=timedelta(days=1),
        schema=[Field(name="a", dtype=Float32), Field(name="b", dtype=Float32)],
        source=SOURCE,
    )

    schema = feast_repo.training_schema(FeatureService(name="svc", features=[view[["b"]]]))

    assert schema.feature_names == ("b",)


def test_a_non_numeric_feature_is_named_with_its_type():
    with pytest.raises(ValueError, match=r"stats:name of service 'svc' is String"):
        feast_repo.training_schema(
            service(Field(name="rate", dtype=Float32), Field(name="name", dtype=String))
        )


def test_a_range_tag_that_is_no_number_is_named():
    with pytest.raises(
        ValueError, match=r"feature 'rate': tag 'max' must be a number, found 'one'"
    ):
        feast_repo.training_schema(service(Field(name="rate", dtype=Float32, tags={"max": "one"})))


def test_the_repos_tags_survive_apply(tmp_path: Path):
    store = feast_repo.feature_store(
        paths.FEATURE_REPO, registry=tmp_path / "registry.db", online_store=tmp_path / "online.db"
    )
    feast_repo.apply_repo(store, paths.FEATURE_REPO, tmp_path / "stats.parquet")
    (declared,) = [
        s
        for s in feast_repo.load_repo(paths.FEATURE_REPO).feature_services
        if s.name == FEATURE_SERVICE
    ]

    applied = feast_repo.applied_schema(store, FEATURE_SERVICE)

    assert applied == feast_repo.training_schema(declared)
    assert {f.name: (f.minimum, f.maximum) for f in applied.features} == {
        "conv_rate": (0.0, 1.0),
        "acc_rate": (0.0, 1.0),
        "avg_daily_trips": (0.0, None),
    }


def test_an_unknown_service_names_the_registry_and_the_services_it_holds(tmp_path: Path):
    store = feast_repo.feature_store(
        paths.FEATURE_REPO, registry=tmp_path / "registry.db", online_store=tmp_path / "online.db"
    )
    feast_repo.apply_repo(store, paths.FEATURE_REPO, tmp_path / "stats.parquet")

    with pytest.raises(ValueError) as error:
        feast_repo.applied_schema(store, "no_such_service")

    message = str(error.value)
    assert "'no_such_service'" in message
    assert str(tmp_path / "registry.db") in message
    assert FEATURE_SERVICE in message
