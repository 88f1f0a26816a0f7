"""Credentials kept out of what is shown (training_assets.core.secrets)."""

import pytest

from training_assets.core.secrets import redact_config, redact_uri, split_credentials


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("http://user:pa55@host:5000/path", "http://user:***@host:5000/path"),
        (
            "postgresql+psycopg2://app:pa55@db:5432/mlflow",
            "postgresql+psycopg2://app:***@db:5432/mlflow",
        ),
        ("https://token@host", "https://***@host"),
        (
            "s3://bucket/key?X-Amz-Signature=pa55&region=eu",
            "s3://bucket/key?X-Amz-Signature=***&region=eu",
        ),
        ("redis://:pa55@cache:6379/0", "redis://:***@cache:6379/0"),
        ("sqlite:////var/mlflow.db", "sqlite:////var/mlflow.db"),
        ("/plain/path.parquet", "/plain/path.parquet"),
    ],
)
def test_redacted_uris_keep_everything_but_the_secret(uri, shown):
    assert redact_uri(uri) == shown
    assert "pa55" not in redact_uri(uri)


def test_credentials_leave_an_http_uri_and_stay_in_a_database_url():
    assert split_credentials("http://us%40er:p%3Ass@host:5000/x") == (
        "http://host:5000/x",
        "us@er",
        "p:ss",
    )
    database = "postgresql://app:pa55@db/mlflow"
    assert split_credentials(database) == (database, None, None)


def test_a_config_tree_is_redacted_at_every_depth():
    config = {"resources": {"mlflow_store": {"config": {"tracking_uri": "http://u:pa55@h"}}}}
    config["ops"] = {"trained_model": {"config": {"alpha": 0.5, "grid": ["http://u:pa55@h"]}}}

    redacted = redact_config(config)

    assert "pa55" not in repr(redacted)
    assert redacted["ops"]["trained_model"]["config"]["alpha"] == 0.5
