"""What loading the code location does to the process it is loaded in."""

import json
import os
import subprocess
import sys
import textwrap

from training_assets.core import paths

# Run in a process of its own, in the order `dagster job execute` takes: Dagster, then the code
# location, then what the steps import and a gate's DuckDB query. DuckDB's bindings report at
# exit any of their objects that were never freed.
PROBE = textwrap.dedent(
    """
    import gc, json, sys
    import dagster
    from training_assets.definitions import defs
    frozen = gc.get_freeze_count()
    duckdb_at_freeze = "duckdb" in sys.modules
    import feast, mlflow
    import pandas as pd
    from training_assets.core.data.table_query import TABLE, TableQuery
    with TableQuery(pd.DataFrame({"conv_rate": [0.1, 0.2]})) as query:
        count = query.one(f"SELECT count(*) FROM {TABLE}")[0]
    order = list(sys.modules)
    print(json.dumps({
        "frozen": frozen,
        "duckdb_at_freeze": duckdb_at_freeze,
        "count": count,
        "scipy_special": order.index("scipy.special"),
        "feast": order.index("feast"),
        "mlflow": order.index("mlflow"),
    }))
    """
)


def test_the_code_location_freezes_its_imports_and_exits_without_leaks(tmp_path):
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
    # The objects built on import are out of the later full collections...
    assert found["frozen"] > 100_000
    # ...and, as they are never freed, DuckDB's bindings are not among them: its objects are
    # freed at exit, and it has nothing to report.
    assert not found["duckdb_at_freeze"]
    assert found["count"] == 2
    assert "leaked" not in result.stderr, result.stderr[-2000:]
    # skops looks scipy's ufuncs up in import order: scipy.special comes before the big ones.
    assert found["scipy_special"] < found["feast"]
    assert found["scipy_special"] < found["mlflow"]
