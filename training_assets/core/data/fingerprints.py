"""Data versions of files (digests of their bytes) and deciding when watched files have
settled and changed, for the new-data sensor.

A file is read only once it looks the same (name, size, modification time) on two ticks in a
row, so a file still being copied in is never picked up half-written.
"""

import hashlib

from upath import UPath

from training_assets.core.data import locations
from training_assets.core.timing import timed


def signatures(files: list[UPath]) -> dict[str, list]:
    """Name to [size, modification marker] of each file (local or in an object store), the
    state that must hold still between ticks."""
    return {str(path): locations.state(path) for path in files}


def combined_digest(*digests: str) -> str:
    """One digest over several data versions, for a run key that changes when any of them does."""
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


@timed("digest")
def content_digest(files: list[UPath]) -> str:
    """A SHA-256 over the files' names and bytes: the data version of a set of files."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with locations.accessing(path), path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
