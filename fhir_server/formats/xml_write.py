"""FHIR JSON structure → FHIR XML (R4 xml.html), element order from the StructureDefinitions.

Only called when a client asks for XML. A stored resource passed the validator, so every
property is in the model; one that is not (a programming error) raises ValueError, never
output that silently drops data. Narrative `div` is written as the XHTML text it is stored as
(validated as well-formed XHTML with its namespace when it was written). An `id` or extension
on `Element.id` or `Extension.url` has no XML form (they are attributes) and is not written.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from profiles.model import COMPLEX, PRIMITIVE, RESOURCE, TypeDef, model

from .xml_model import FHIR_NS, attributes_of, element_order

_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)


def to_xml(resource: dict[str, Any]) -> bytes:
    """`resource` (a dict with `resourceType`) as a UTF-8 XML document."""
    out: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>']
    _resource(resource, out, f' xmlns="{FHIR_NS}"')
    return "".join(out).encode("utf-8")


def _attribute(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value.translate(_ATTRIBUTE_ESCAPES)
    if isinstance(value, int | Decimal):
        return str(value)
    raise ValueError(f"{type(value).__name__} is no FHIR primitive value")


def _resource(resource: Any, out: list[str], namespace: str = "") -> None:
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    td = model().types.get(kind) if isinstance(kind, str) else None
    if td is None or not td.is_resource:
        raise ValueError(f"not a FHIR resource: {kind!r}")
    out.append(f"<{kind}{namespace}>")
    _children(resource, td, out)
    out.append(f"</{kind}>")


def _children(obj: dict[str, Any], td: TypeDef, out: list[str]) -> None:
    order = element_order(td.key)
    skipped = attributes_of(td)
    try:
        names = sorted((key for key in obj if key != "resourceType" or not td.is_resource), key=order.__getitem__)
    except KeyError as exc:
        raise ValueError(f"{td.key} has no element {exc}") from None
    for key in names:
        name = key[1:] if key[0] == "_" else key
        if name in skipped or (key[0] == "_" and name in obj):
            continue
        prop = td.props[name]
        value: Any = obj.get(name)
        extra: Any = obj.get("_" + name)
        if prop.kind == PRIMITIVE:
            if prop.type == "xhtml":
                out.append(value)
            elif prop.many:
                values = value if value is not None else [None] * len(extra)
                extras = extra if extra is not None else [None] * len(values)
                for item, item_extra in zip(values, extras, strict=True):
                    _primitive(name, item, item_extra, out)
            else:
                _primitive(name, value, extra, out)
        elif prop.kind == RESOURCE:
            for item in value if prop.many else (value,):
                out.append(f"<{name}>")
                _resource(item, out)
                out.append(f"</{name}>")
        elif prop.kind == COMPLEX and prop.children is not None:
            for item in value if prop.many else (value,):
                _complex(name, item, prop.children, out)


def _start(name: str, obj: dict[str, Any], td: TypeDef, out: list[str]) -> None:
    out.append(f"<{name}")
    for attribute in attributes_of(td):
        if obj.get(attribute) is not None:
            out.append(f' {attribute}="{_attribute(obj[attribute])}"')


def _close(name: str, obj: dict[str, Any], td: TypeDef, out: list[str]) -> None:
    """Ends the start tag, writes the children of `obj`, closes (as `/>` when there were none)."""
    out.append(">")
    mark = len(out)
    _children(obj, td, out)
    if len(out) == mark:
        out[-1] = "/>"
    else:
        out.append(f"</{name}>")


def _complex(name: str, obj: dict[str, Any], td: TypeDef, out: list[str]) -> None:
    _start(name, obj, td, out)
    _close(name, obj, td, out)


def _primitive(name: str, value: Any, extra: dict[str, Any] | None, out: list[str]) -> None:
    element = model().types["Element"]
    _start(name, extra or {}, element, out)
    if value is not None:
        out.append(f' value="{_attribute(value)}"')
    _close(name, extra or {}, element, out)
