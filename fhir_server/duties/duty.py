"""What a duty is: background work declared once, run by every process it applies to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from ..config import Settings
from ..storage.database import Database
from ..storage.leases import LEASE

SERVER, MLLP = "server", "mllp"
"""What a process runs, for `Duty.needs`: the FHIR API server, an HL7 v2 MLLP listener."""


@dataclass(frozen=True)
class DutyContext:
    """What a duty's handler gets: the process's Database, settings and worker id (its lease holder name)."""

    database: Database
    settings: Settings
    worker: str


@dataclass(frozen=True)
class Duty:
    """One piece of background work.

    `run(context)` does one round every `every` seconds (a number, or a function of the settings);
    with `every=None` it runs continuously (a loop of its own that never returns, e.g. a job worker).
    `leased`: one process at a time runs it (rounds only), under a lease in the `duties` collection
    lasting `lease`, renewed while a round runs. `needs`: what a process must run for the duty to
    apply there (`SERVER`, `MLLP`); `enabled(settings)` turns it off by configuration.
    """

    name: str
    run: Callable[[DutyContext], Awaitable[object]]
    every: float | Callable[[Settings], float] | None = None
    leased: bool = False
    needs: frozenset[str] = frozenset({SERVER})
    enabled: Callable[[Settings], bool] = field(default=lambda _settings: True)
    lease: timedelta = LEASE

    def interval(self, settings: Settings) -> float | None:
        """Seconds between rounds (None: runs continuously); `every` may read them from the settings."""
        return self.every(settings) if callable(self.every) else self.every

    def __post_init__(self) -> None:
        if self.leased and self.every is None:
            raise ValueError(f"duty {self.name}: only a duty run in rounds (`every`) can be leased")
