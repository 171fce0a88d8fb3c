"""Result and error types of the HL7 v2 → FHIR R4 mapping, and the per-message mapping context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
    default_timezone: str | None = None
    """Offset (`+01:00`) for times without one when MSH-7 has none either; None: such times keep only the date."""


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
