"""What loading the code location does to the process it is loaded in: nothing beyond the
definitions. The run's own process tuning is applied by the executor (defs/process_tuning.py)."""

import gc
import json
import os
import subprocess
import sys
import textwrap

import pyarrow as pa

from training_assets.core import paths
from training_assets.defs import process_tuning

# Run in a process of its own, in the order a notebook may take: DuckDB first, then the code
# location, then a gate's DuckDB query. DuckDB's bindings report at exit any of their objects
# that were never freed, which a gc.freeze() on import would make of everything imported.
PROBE = textwrap.dedent(
    """
    import duckdb
    import gc, json
    import pandas as pd
    import pyarrow as pa
    pool = pa.default_memory_pool().backend_name
    from training_assets.definitions import defs
    from training_assets.core.data.table_query import TABLE, TableQuery
    with TableQuery(pd.DataFrame({"conv_rate": [0.1, 0.2]})) as query:
        count = query.one(f"SELECT count(*) FROM {TABLE}")[0]
    print(json.dumps({
        "frozen": gc.get_freeze_count(),
        "pool_before": pool,
        "pool_after": pa.default_memory_pool().backend_name,
        "count": count,
    }))
    """
)


def test_importing_the_code_location_leaves_the_process_alone(tmp_path):
    env = {**os.environ, "TRAINING_ASSETS_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=paths.PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["frozen"] == 0
    assert found["pool_after"] == found["pool_before"]
    assert found["count"] == 2
    assert "leaked" not in result.stderr, result.stderr[-2000:]


TUNED = textwrap.dedent(
    """
    import gc, json
    import pyarrow as pa
    from training_assets.definitions import defs
    from training_assets.defs import process_tuning
    process_tuning.tune_run_process()
    process_tuning.tune_run_process()
    pool = pa.default_memory_pool().backend_name
    print(json.dumps({"frozen": gc.get_freeze_count(), "pool": pool}))
    """
)


def test_the_run_process_is_tuned_once_when_asked():
    result = subprocess.run(
        [sys.executable, "-c", TUNED],
        cwd=paths.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["frozen"] > 100_000
    assert found["pool"] == pa.system_memory_pool().backend_name


def test_the_tuning_leaves_duckdb_collectable(monkeypatch):
    """With DuckDB already imported, nothing is frozen: its objects must be freed at exit."""
    monkeypatch.setattr(process_tuning, "_applied", False)
    monkeypatch.setitem(sys.modules, "duckdb", sys.modules.get("duckdb", object()))
    pool = pa.default_memory_pool()
    before = gc.get_freeze_count()
    try:
        process_tuning.tune_run_process()
        assert gc.get_freeze_count() == before
    finally:
        pa.set_memory_pool(pool)
