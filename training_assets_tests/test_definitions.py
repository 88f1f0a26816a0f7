"""What loading the code location does to the process it is loaded in."""

import json
import os
import subprocess
import sys
import textwrap

from training_assets.core import paths

# Run in a process of its own, in the order `dagster job execute` takes: Dagster, then the code
# location. It then uses DuckDB, whose bindings report at exit any of their objects that the
# garbage collector never freed.
PROBE = textwrap.dedent(
    """
    import gc, json, sys
    import dagster
    from training_assets.definitions import defs
    frozen = gc.get_freeze_count()
    import duckdb, feast, mlflow  # as the steps import them
    duckdb.connect().sql("select 42").fetchall()
    order = list(sys.modules)
    print(json.dumps({
        "frozen": frozen,
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
    # ...and are collected again at exit: nothing left for DuckDB's bindings to report.
    assert "leaked" not in result.stderr, result.stderr[-2000:]
    # skops looks scipy's ufuncs up in import order: scipy.special comes before the big ones.
    assert found["scipy_special"] < found["feast"]
    assert found["scipy_special"] < found["mlflow"]
