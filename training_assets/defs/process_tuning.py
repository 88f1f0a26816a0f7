"""Speed and memory settings for the process that runs a run's steps, applied by the executor.

Each changes the whole process, so nothing applies them on import: the executor calls
`tune_run_process` when a run starts executing (defs/executors.py), in the process that
orchestrates the run (the run worker, or `dagster job execute`), and in no other. A notebook,
a test or a tool that imports the code location gets a process as Python and Arrow made it.

Kept because each buys at least 5% at a size users run:

- `gc.freeze()`: what the process imported and built before the steps (Dagster, Feast, MLflow,
  the definitions: about 400,000 objects) lives as long as the run. Frozen, it is left out of
  the full collections that the steps' allocations and imports trigger, and out of the
  interpreter's last collections at exit. On the sample `training_job` (5,000 orders, two
  cores shared with other work) the run took 8.7 to 10.7 s of CPU with it and 11.5 to 11.6 s
  without: at least 8%, a figure from a loaded machine that the benchmark should confirm.
  Frozen objects are never freed, and DuckDB's bindings report as leaked any of their objects
  alive at exit: the executor freezes before any step has imported DuckDB.
- Arrow's allocator switched to the C library's: Arrow's default (mimalloc) keeps the pages
  that the parquet reader's and the join's threads freed in per-thread heaps, 0.5 GiB at 10M
  orders and more at 100M, through every later step of an in-process run (the benchmark's
  peak memory at 10M orders; see `storage.use_system_allocator`).

Dropped: importing `scipy.special` before everything else, which made skops's first import
0.5 s faster per process that logs or loads a model, since it searches sys.modules in import
order. It only works as the first import of the process, which only a process's own entry
point can do, and it is 0.5 s of a run that takes 9 s of CPU on the sample, less at any size
users train at.
"""

import gc
import sys

from training_assets.core.data import storage

_applied = False


def tune_run_process() -> None:
    """Apply the settings above to this process, once; later calls do nothing."""
    global _applied
    if _applied:
        return
    _applied = True
    storage.use_system_allocator()
    if "duckdb" not in sys.modules:
        # DuckDB's objects must stay collectable: it reports the ones alive at exit as leaks.
        gc.freeze()
