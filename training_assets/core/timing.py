"""Named timings that the pipeline's code records as it works, for whoever listens.

The work wraps a stage in `timed("name")`; a listener installed with `recording()` (the
benchmark) receives each stage's calls and seconds. With no listener a stage costs two clock
reads. This is the benchmark's only view into a step, so it follows the code as it changes
rather than patching functions by name.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

_sinks: list[dict[str, dict]] = []


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Record the seconds spent in the block under `name` for every active listener."""
    started = time.perf_counter()
    try:
        yield
    finally:
        record(name, time.perf_counter() - started)


def record(name: str, seconds: float) -> None:
    """Record one call of `name` that took `seconds`, for every active listener: what `timed`
    does at the end of its block, for work timed elsewhere (the offline store's join)."""
    for sink in _sinks:
        entry = sink.setdefault(name, {"calls": 0, "total_s": 0.0})
        entry["calls"] += 1
        entry["total_s"] += seconds


@contextmanager
def recording() -> Iterator[dict[str, dict]]:
    """Collect the timings of every `timed` stage run inside the block.

    Yields:
        A dict filled as stages finish: name to `{"calls": n, "total_s": seconds}`.
    """
    sink: dict[str, dict] = {}
    _sinks.append(sink)
    try:
        yield sink
    finally:
        # By identity: two sinks with equal contents are still two listeners.
        del _sinks[next(i for i, s in enumerate(_sinks) if s is sink)]
