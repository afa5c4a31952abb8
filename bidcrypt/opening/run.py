"""What one run of the opening reports: its progress as it goes, and what it did in the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bidcrypt.errors import BidcryptError

#: The phases of opening one bid, in order: the content key unwrapped on the key source (in the
#: batch's process); then, in a worker, the content decrypted (the stored bytes read once, checked
#: against the receipt while they are decrypted), the signed manifest checked (signature, chain,
#: identity), the files extracted and hashed, the seals verified; and the files synced to the disk
#: (by threads of the batch's process, before the bid is recorded).
PHASES = ("unwrap", "decrypt", "manifest", "files", "seals", "sync")


@dataclass(frozen=True)
class Progress:
    """How far the batch is: bids finished of those this key can open, and their bytes."""

    done: int
    total: int
    bytes_done: int
    last: str
    #: True when the key source decrypts the content on the token (its standard path: no private-key
    #: decryption), so the bids are opened one at a time, slowly (see :data:`bidcrypt.opening.SLOW_PATH`).
    on_token: bool = False


@dataclass
class OpeningRun:
    """What one run of the opening did."""

    opened: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    #: Current bids this key cannot open (not encrypted to it).
    skipped: list[int] = field(default_factory=list)
    #: Bids left pending with an attempt whose cause could not be told (they stay open for a new run).
    deferred: list[int] = field(default_factory=list)
    #: The failure that stopped the batch early (token removed, PIN, disk full), if any.
    stopped: BidcryptError | None = None
    #: Private-key operations made on the key source.
    unwraps: int = 0
    seconds: float = 0.0
    bytes: int = 0
    #: Seconds spent in each of :data:`PHASES`, summed over the bids (measured where the work is
    #: done: the unwrap and the sync in this process, the rest in the workers, which run side by side).
    phases: dict[str, float] = field(default_factory=dict)
    #: How many bids went through the workers (the count the phase times are spread over).
    worked: int = 0
    #: How many bids had their content decrypted on the token (the slow path, in this process).
    token_decrypted: int = 0

    def add_phases(self, phases: dict[str, float]) -> None:
        """Add one bid's phase times."""
        for name, seconds in phases.items():
            self.phases[name] = self.phases.get(name, 0.0) + seconds

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "opened": self.opened,
            "failed": self.failed,
            "skipped": self.skipped,
            "deferred": self.deferred,
            "stopped": None if self.stopped is None else self.stopped.to_dict(),
            "unwraps": self.unwraps,
            "seconds": round(self.seconds, 3),
            "bytes": self.bytes,
            "phases": {name: round(self.phases[name], 6) for name in PHASES if name in self.phases},
            "worked": self.worked,
            "token_decrypted": self.token_decrypted,
        }
