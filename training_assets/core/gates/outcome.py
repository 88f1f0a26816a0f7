"""What every gate returns: its verdict and the evidence behind it."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GateOutcome:
    """A gate's verdict, with the evidence (expected against found) that the UI shows.

    Attributes:
        passed: Whether the property holds.
        evidence: JSON-serialisable figures behind the verdict.
        description: Why it failed, in one line; empty when it passed.
        warn_only: A failure that only warns, though the gate can block (drift below the
            blocking limit, say).
    """

    passed: bool
    evidence: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    warn_only: bool = False
