"""Orders and driver stats in S3: an S3-compatible server on 127.0.0.1 (moto's server mode),
files made by Feast's generator in the course's layout, and the pipeline pointed at them by
run config only.

`dagster job execute` trains and registers from `s3://` URLs, with the same data versions as
the same files on disk; the new-data sensor sees a new object and a rewritten one (same size,
new ETag) tick by tick. Without credentials, every reader names the URL and the variables to set.
"""

import shutil
from pathlib import Path

import fsspec
import pytest

from training_assets.core.data import fingerprints, locations, orders
from training_assets.core.tracking.lineage import LINEAGE_PREFIX
from training_assets_tests.defs.automation.test_sensors import Ticker, _requests, _skipped
from training_assets_tests.e2e.cli import cli_run, finish
from training_assets_tests.e2e.servers import s3_server
from training_assets_tests.e2e.test_users_files import feast_style_files

BUCKET = "training-data"
ORDERS = f"s3://{BUCKET}/orders/"
STATS = f"s3://{BUCKET}/features/driver_stats.parquet"
MODEL = "sklearn-elastic-net-reg"


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The server's environment, set in this process too, and an s3fs file system on it."""
    with s3_server(tmp_path) as env:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        fsspec.filesystem("s3").clear_instance_cache()
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        fs.mkdir(BUCKET)
        yield env, fs


@pytest.fixture
def files(working_area: Path, tmp_path: Path, s3) -> dict:
    """Feast-style stats and a TSV of orders on disk, and the same files in the bucket."""
    _, fs = s3
    folder = tmp_path / "users"
    folder.mkdir()
    local = feast_style_files(folder)
    fs.put_file(str(local["stats"]), STATS.removeprefix("s3://"))
    fs.put_file(str(local["orders"]), f"{BUCKET}/orders/{local['orders'].name}")
    return local


def test_training_job_trains_and_registers_from_s3_urls(files, s3, home, working_area):
    env, _ = s3
    config = {
        "resources": {
            "orders_source": {"config": {"orders_path": ORDERS}},
            "feast": {"config": {"driver_stats_path": STATS}},
        }
    }

    process, log = cli_run(working_area, home, "s3_run", env=env, config=config)

    assert finish(process, log) == 0, log.read_text()[-4000:]
    from training_assets.defs.resources.mlflow import MlflowStore

    client = MlflowStore().configure_client()
    [version] = client.search_model_versions(f"name='{MODEL}'")
    tags = version.tags
    assert tags[f"{LINEAGE_PREFIX}orders_path"] == ORDERS.rstrip("/")
    # The data versions are the files' names and bytes, wherever they are kept.
    assert tags[f"{LINEAGE_PREFIX}orders_version"] == fingerprints.content_digest([files["orders"]])
    assert tags[f"{LINEAGE_PREFIX}driver_stats_version"] == fingerprints.content_digest(
        [files["stats"]]
    )


def test_the_new_data_sensor_sees_new_and_rewritten_objects(files, s3, instance, tmp_path):
    _, fs = s3
    ticker = Ticker(instance, ORDERS, STATS)
    remote_orders = locations.resolve(ORDERS)

    [first] = _requests(ticker.settle())
    assert first.run_key == _digest(remote_orders, STATS)
    assert _skipped(ticker.tick())

    # A second orders file lands in the bucket.
    second = tmp_path / "users" / "more_orders.csv"
    shutil.copy(files["orders"], second)
    fs.put_file(str(second), f"{BUCKET}/orders/{second.name}")
    [after_new] = _requests(ticker.settle())
    assert after_new.run_key != first.run_key
    assert after_new.run_key == _digest(remote_orders, STATS)

    # The first file is rewritten in place with one label flipped: same size, new ETag.
    lines = files["orders"].read_text().splitlines(keepends=True)
    label = lines[0].rstrip("\n").split("\t").index("trip_completed")
    fields = lines[1].split("\t")
    fields[label] = "1" if fields[label] == "0" else "0"
    lines[1] = "\t".join(fields)
    rewritten = "".join(lines).encode()
    assert len(rewritten) == files["orders"].stat().st_size
    fs.pipe_file(f"{BUCKET}/orders/{files['orders'].name}", rewritten)
    [after_rewrite] = _requests(ticker.settle())
    assert after_rewrite.run_key not in (first.run_key, after_new.run_key)
    assert after_rewrite.run_key == _digest(remote_orders, STATS)


def _digest(orders_dir, stats: str) -> str:
    from training_assets.core.data import orders

    return fingerprints.combined_digest(
        fingerprints.content_digest(orders.order_files(orders_dir)),
        fingerprints.content_digest([locations.resolve(stats)]),
    )


@pytest.fixture
def no_credentials(files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bucket as before, but nothing that botocore could find credentials in: no key
    variables, no profile files, no instance metadata service."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no_credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no_config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    fsspec.filesystem("s3").clear_instance_cache()


NAMED = r"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(or AWS_PROFILE.*AWS_ENDPOINT_URL"


@pytest.mark.parametrize(
    ("url", "read"),
    [
        (ORDERS, lambda url: orders.order_files(locations.resolve(url))),
        (STATS, lambda url: fingerprints.content_digest([locations.resolve(url)])),
        (STATS, lambda url: locations.read_parquet(url)),
        (STATS, lambda url: locations.parquet_metadata(locations.resolve(url))),
        (STATS, lambda url: locations.state(locations.resolve(url))),
    ],
    ids=["orders_files", "data_version", "read", "footer", "sensor_state"],
)
def test_without_credentials_each_reader_names_the_url_and_what_to_set(no_credentials, url, read):
    with pytest.raises(locations.LocationError, match=NAMED) as raised:
        read(url)

    assert str(raised.value).startswith(f"{url.rstrip('/')}: no credentials found for S3")


def test_a_run_without_credentials_fails_naming_the_url(no_credentials, s3, home, working_area):
    env, _ = s3
    config = {
        "resources": {
            "orders_source": {"config": {"orders_path": ORDERS}},
            "feast": {"config": {"driver_stats_path": STATS}},
        }
    }
    # The server's endpoint, but not its keys.
    endpoint = {"AWS_ENDPOINT_URL": env["AWS_ENDPOINT_URL"]}

    process, log = cli_run(working_area, home, "s3_no_keys", env=endpoint, config=config)

    assert finish(process, log) != 0
    output = log.read_text()
    named = [f"{url.rstrip('/')}: no credentials found for S3" in output for url in (ORDERS, STATS)]
    assert any(named), output[-4000:]
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in output
