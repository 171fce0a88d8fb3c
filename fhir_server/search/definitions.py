"""What a search parameter is, and the shape of the index entries extracted for it.

Values are extracted at write time into `idx`, a list of typed entries stored on the
current version of each resource (attribute pattern). Queries match one entry with
`$elemMatch`. No index covers `idx`: beside it each resource carries `keys`, flat strings
such as `Observation|code|c8867-4` under one single-field index (see keys.py), from which
one clause of a search finds the candidates that the `$elemMatch` filter then checks. Every
entry has `p`, the parameter code; the other keys depend on the parameter type:

| type      | keys                                                                                 |
| --------- | ------------------------------------------------------------------------------------ |
| token     | `s` system (or None), `c` code/value (or None), `t` normalized display/text (opt.),  |
|           | `ts`/`tc` the Identifier.type coding system/code (opt., for `:of-type`)             |
| string    | `v` normalized (casefolded, accents stripped, whitespace collapsed), `e` exact      |
| date      | `lo` inclusive start, `hi` exclusive end (UTC datetimes; open ends use the extremes) |
| number    | `n` the value (Decimal, stored as Decimal128)                                        |
| quantity  | `n` value, `s` system, `c` code, `u` unit text, `cn`/`cc` UCUM-canonical value/code  |
| reference | `r` "Type/id" for local references or the absolute URL / canonical URL otherwise,   |
|           | `ty` target type (when known), `rv` version (from `/_history/n` or canonical `|v`) |
|           | Reference.identifier is indexed as a separate entry with `s`, `c` and `ri: True`     |
| uri       | `u` the URI                                                                          |
| composite | `k`: the component entries in order (each without `p`)                              |

Besides `idx` and `keys`, extraction yields `sort` (parameter code -> one sortable value: the lowest
`lo` for dates, the first normalized string, the first code, number or reference) and
`compartments` (["Patient/123", ...], from the R4 patient CompartmentDefinition).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PARAMETER_TYPES = ("number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special")


@dataclass(frozen=True)
class Component:
    """One part of a composite parameter: the component's parameter definition URL and its expression."""

    definition: str
    expression: str


@dataclass(frozen=True)
class SearchParameterDef:
    """One search parameter as it applies to one resource type."""

    code: str
    type: str
    url: str
    expression: str | None
    bases: tuple[str, ...]
    targets: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()
    modifiers: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()
    version: str | None = None

    def documentation(self) -> dict[str, Any]:
        """The CapabilityStatement.rest.resource.searchParam entry."""
        entry = {"name": self.code, "definition": self.url, "type": self.type}
        if self.type == "special":
            entry["documentation"] = "Not supported yet (such as Location near): searching by it answers 400."
        return entry
