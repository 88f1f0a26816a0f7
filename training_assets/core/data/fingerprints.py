"""Data versions of files (digests of their bytes) and deciding when watched files have
settled and changed, for the new-data sensor.

A file is read only once it looks the same (name, size, modification time) on two ticks in a
row, so a file still being copied in is never picked up half-written.
"""

import hashlib
from pathlib import Path

from training_assets.core.timing import timed


def signatures(files: list[Path]) -> dict[str, list[int]]:
    """Name to [size, mtime_ns] of each file, the state that must hold still between ticks."""
    result = {}
    for path in files:
        stat = path.stat()
        result[str(path)] = [stat.st_size, stat.st_mtime_ns]
    return result


def combined_digest(*digests: str) -> str:
    """One digest over several data versions, for a run key that changes when any of them does."""
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


@timed("digest")
def content_digest(files: list[Path]) -> str:
    """A SHA-256 over the files' names and bytes: the data version of a set of files."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
