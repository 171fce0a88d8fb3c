"""Result and error types of the HL7 v2 → FHIR R4 mapping, and the per-message mapping context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

Coding = dict[str, Any]
Translate = Callable[[str, str], Coding | None]
"""`translate(system, code)`: a target coding (e.g. LOINC for a local lab code) or None; both codings are kept."""


@dataclass
class MappingError:
    """One problem, as an HL7 ERR would report it (code from table 0357, location `SEG^set^field`)."""

    code: str
    location: str
    text: str
    severity: str = "W"
    supported: bool = True


@dataclass
class MappingResult:
    """A FHIR R4 transaction Bundle (None when the message can't be mapped) and the problems found."""

    bundle: dict[str, Any] | None
    errors: list[MappingError] = field(default_factory=list)


@dataclass
class MappingOptions:
    """Hooks the pipeline may pass in; the mapping itself stays pure."""

    translate: Translate | None = None
    """Local code → standard coding (ConceptMap $translate), applied to OBX-3 and OBR-4."""
    order_exists: Callable[[str, str], bool] | None = None
    """Whether a ServiceRequest with identifier (system, value) is known; None: assume unknown (emit a review Task)."""
    default_timezone: str | tzinfo | None = None
    """The sending facility's zone (or a fixed offset such as `+01:00`) for times without an offset; None:
    MSH-7's offset, else the server's zone."""
    accept_invalid: bool = False
    """A result value (OBX-5) or time (OBX-14) that cannot be stored as sent: skipped with a warning (True), or
    the message refused (102, severity E; the default), so nothing is stored without it."""
    authorities: Mapping[str, str] = field(default_factory=dict)
    """Assigning authority (HD namespace ID or universal ID) → identifier system URI."""


@dataclass
class Context:
    """What one mapping run accumulates: errors, options and the message's default timezone."""

    options: MappingOptions = field(default_factory=MappingOptions)
    errors: list[MappingError] = field(default_factory=list)
    timezone: str | None = None

    def warn(self, code: str, location: str, text: str) -> None:
        """An optional field was skipped (the same warning is recorded once)."""
        error = MappingError(code, location, text, "W")
        if error not in self.errors:
            self.errors.append(error)

    def error(self, code: str, location: str, text: str, supported: bool = True) -> None:
        """A required field is missing or wrong: the message can't be mapped."""
        self.errors.append(MappingError(code, location, text, "E", supported))

    @property
    def failed(self) -> bool:
        """Whether an error (severity E) was recorded."""
        return any(e.severity == "E" for e in self.errors)
