"""A Redis online store that loses its data, on the production Feast profile (SQL registry on
PostgreSQL, deploy/feast/feature_store.yaml) with a redis-server of the test's own: after a
FLUSHALL the registry still says the view was loaded, but predictions are refused until
online_features reloads the store in full, and then they are what they were."""

import pytest
import redis

from training_assets.core import paths
from training_assets.defs.resources.mlflow import MlflowStore
from training_assets_tests.core.features.test_online_store_state import logged_model
from training_assets_tests.e2e.servers import redis_server
from training_assets_tests.e2e.test_online_features import materialize_online
from training_assets_tests.e2e.test_online_serving import predict_here
from training_assets_tests.services import postgres_database, postgres_url

pytestmark = [pytest.mark.services, pytest.mark.slow]

DEPLOY_FEAST = paths.PROJECT_ROOT / "deploy" / "feast" / "feature_store.yaml"


@pytest.fixture
def private_redis(working_area, tmp_path, monkeypatch):
    """The production Feast profile with a registry database and a Redis of the test's own."""
    with postgres_database("feast") as registry, redis_server(tmp_path / "redis") as port:
        monkeypatch.setenv("FEAST_FS_YAML_FILE_PATH", str(DEPLOY_FEAST))
        monkeypatch.setenv("FEAST_REGISTRY_URL", postgres_url(registry))
        monkeypatch.setenv("FEAST_REDIS_CONNECTION", f"127.0.0.1:{port},db=0")
        yield redis.Redis(host="127.0.0.1", port=port)


def views_loaded(result) -> list[str]:
    [materialization] = result.asset_materializations_for_node("online_features")
    return [view["how"] for view in materialization.metadata["views"].value]


def test_a_flushed_redis_is_refused_until_online_features_reloads_it(
    private_redis, working_area, instance, capsys
):
    # The predict command runs in this process: its own process is tested in
    # test_online_serving, and what is tested here is the store it reads.
    client = MlflowStore().configure_client()
    model_uri = logged_model(client, paths.default_driver_stats_path())
    # 424242 is no driver: Redis answers an unknown key with empty values, not "not found".
    drivers = ["--model-uri", model_uri, "1001", "1002", "1003", "424242"]
    first = materialize_online(instance)
    code, served, _ = predict_here(capsys, *drivers)
    assert code == 0
    assert private_redis.dbsize() > 0

    private_redis.flushall()
    refused_code, refused, refused_errors = predict_here(capsys, *drivers)
    reloaded = materialize_online(instance)
    again_code, again, _ = predict_here(capsys, *drivers)

    assert first.success and views_loaded(first) == ["initial"]
    assert [row["features_found"] for row in served] == [True, True, True, False]
    assert [row["prediction"] is None for row in served] == [False, False, False, True]
    assert refused_code == 2
    assert refused == []
    assert "lost its data" in refused_errors
    assert "Materialize online_features" in refused_errors
    assert reloaded.success and views_loaded(reloaded) == ["reload: store lost its data"]
    assert [e.passed for e in reloaded.get_asset_check_evaluations()] == [True]
    assert again_code == 0 and again == served
    assert views_loaded(materialize_online(instance)) == ["up to date"]
