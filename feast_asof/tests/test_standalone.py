"""The package needs nothing of the project it lives in: in a fresh interpreter in which the
project's own packages cannot be imported, `feast apply` applies a new Feast repo whose
feature_store.yaml names the store, and the repo's point-in-time join runs through it."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

# The folder that holds feast_asof/, and with it the project's other packages, which are blocked.
PARENT = Path(__file__).resolve().parents[2]
BLOCKED = ("training_assets", "training_assets_tests", "bench")

SETTINGS = """\
project: standalone
provider: local
registry: data/registry.db
online_store:
  type: sqlite
  path: data/online_store.db
offline_store:
  type: feast_asof.store.AsofDuckDBOfflineStore
entity_key_serialization_version: 3
"""

DEFINITIONS = """\
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float32

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
stats = FeatureView(
    name="stats",
    entities=[driver],
    ttl=timedelta(hours=2),
    schema=[Field(name="rate", dtype=Float32)],
    source=FileSource(
        name="stats_source",
        path="data/stats.parquet",
        timestamp_field="datetime",
        created_timestamp_column="created",
    ),
)
"""

SCRIPT = textwrap.dedent(
    """
    import importlib.abc
    import json
    import sys

    BLOCKED = set(sys.argv[1].split(","))


    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"{name} is blocked", name=name)
            return None


    sys.meta_path.insert(0, Blocker())

    import pandas as pd
    from feast import FeatureStore
    from feast.cli.cli import cli

    hours = pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC")
    stats = pd.DataFrame({"driver_id": [1, 1, 1], "datetime": hours, "created": hours})
    stats["rate"] = pd.Series([0.25, 0.5, 0.75], dtype="float32")
    stats.to_parquet("data/stats.parquet", index=False)
    cli.main(["apply"], standalone_mode=False)

    store = FeatureStore(repo_path=".")
    minute = pd.Timedelta(minutes=1)
    entity = pd.DataFrame(
        {
            "driver_id": [1, 1, 1, 2],
            # Before the first row; between the second and third; past the TTL; no such driver.
            "event_timestamp": [
                hours[0] - minute, hours[1] + 30 * minute, hours[2] + 180 * minute, hours[1]
            ],
        }
    )
    job = store.get_historical_features(entity_df=entity, features=["stats:rate"])
    rates = job.to_df()["rate"]
    print(json.dumps({
        "job": f"{type(job).__module__}.{type(job).__name__}",
        "rates": [None if pd.isna(rate) else float(rate) for rate in rates],
        "imported": sorted(name for name in sys.modules if name.partition(".")[0] in BLOCKED),
    }))
    """
)


def run(code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter that finds the project's packages only on `PARENT`."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env={**environment, "PYTHONPATH": str(PARENT)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_feast_applies_and_joins_through_the_store_without_the_project(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "feature_store.yaml").write_text(SETTINGS)
    (tmp_path / "definitions.py").write_text(DEFINITIONS)
    (tmp_path / ".feastignore").write_text("data/\n")

    completed = run(SCRIPT, tmp_path, ",".join(BLOCKED))

    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result == {
        "job": "feast_asof.store.AsofRetrievalJob",
        "rates": [None, 0.5, None, None],
        "imported": [],
    }


def test_the_blocker_blocks(tmp_path: Path):
    """The check above would pass vacuously if the project's packages were not reachable."""
    blocked = run(
        SCRIPT.split("import pandas")[0] + "import training_assets\n", tmp_path, "training_assets"
    )
    reachable = run("import training_assets", tmp_path)

    assert "ModuleNotFoundError: training_assets is blocked" in blocked.stderr
    assert reachable.returncode == 0, reachable.stderr[-4000:]
