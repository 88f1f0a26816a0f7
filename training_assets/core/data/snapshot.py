"""The data snapshot a training run is for, and the checks that it trained on exactly that.

A run is requested for given contents of the orders and the feature file (the new-data sensor
pins their digests in the run's tags). When its step runs, the files must still hold those
contents, and they must not change while the step reads them; otherwise the run would train
on data nobody asked for, under tags that name other data.
"""

from dataclasses import dataclass, field
from functools import cached_property

from upath import UPath

from training_assets.core.data import fingerprints
from training_assets.core.secrets import redact_uri


class SnapshotChanged(RuntimeError):
    """The data differs from the snapshot the run was requested for, or changed mid-read."""


def verify_requested(requested: dict[str, str], found: dict[str, str]) -> None:
    """Each pinned version in `requested` equals the one `found` now.

    Raises:
        SnapshotChanged: naming each input with the version requested and the one found.
    """
    differing = {
        name: (version, found.get(name))
        for name, version in requested.items()
        if version and found.get(name) != version
    }
    if differing:
        detail = "; ".join(
            f"{name}: requested {want[:12]}, found {(got or 'nothing')[:12]}"
            for name, (want, got) in differing.items()
        )
        raise SnapshotChanged(
            f"the data changed after this run was requested ({detail}). It trains on nothing "
            "rather than on data it was not requested for; the new-data sensor requests a run "
            "for the data as it is now."
        )


def file_states(files: list[UPath]) -> dict[str, list]:
    """Size and modification time of each file, which any write changes."""
    return fingerprints.signatures(files)


def verify_unchanged(before: dict[str, list], files: list[UPath]) -> None:
    """The files are the same set, of the same sizes and times, as `before`.

    Raises:
        SnapshotChanged: naming the files that changed, appeared or went away.
    """
    after = file_states([path for path in files if path.exists()])
    changed = sorted(
        name for name in set(before) | set(after) if before.get(name) != after.get(name)
    )
    if changed:
        raise SnapshotChanged(
            f"files changed while this run read them: {changed}. Write new data to a new "
            "file and move it into place, or wait for the run to finish; the new-data sensor "
            "requests a run once the files hold still."
        )


@dataclass(frozen=True)
class Files:
    """One input's files as listed once: the value a step reads, digests and re-checks, so
    that the listing, the data version and the read are of the same files.

    `states` are the files' sizes and times when listed; `digest` (their names and bytes) is
    computed on first use, after the states, so a write between the two fails the re-check.
    """

    location: UPath
    paths: tuple[UPath, ...]
    states: dict[str, list] = field(compare=False)

    @classmethod
    def listed(cls, location: UPath, paths: list[UPath]) -> "Files":
        return cls(location, tuple(paths), file_states(paths))

    @cached_property
    def digest(self) -> str:
        return fingerprints.content_digest(list(self.paths))

    @property
    def shown(self) -> str:
        """The location as logs and metadata may show it: without credentials."""
        return redact_uri(str(self.location))

    def verify_unchanged(self) -> None:
        """Raises SnapshotChanged when a file was rewritten or removed since it was listed."""
        verify_unchanged(self.states, list(self.paths))
