"""What the R4 XML form needs from the vendored type model (profiles/model.py), computed once.

Why hand-written rather than a library: the maintained Python FHIR library, `fhir.resources`
(pydantic), dropped R4 4.0.1 in version 7 (R5 and R4B only) and calls its XML support
experimental; going through its models would also turn exact decimals into floats and cost a
model instance per element. The server already vendors the R4 type model its validator walks,
and that model holds everything XML needs: element order, primitive types, choice names,
repetition, and which elements are resources.

XML-specific rules (R4 xml.html): `Element.id` and `Extension.url` are attributes (a resource's
own `id` stays an element), a primitive's value is the `value` attribute, narrative `div` is
XHTML, and resources nested in an element (`contained`, `Bundle.entry.resource`, ...) are wrapped
in it.
"""

from __future__ import annotations

from functools import cache

from profiles.model import ELEMENT, TypeDef, model

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"


def attributes_of(td: TypeDef) -> frozenset[str]:
    """The properties of `td` written as XML attributes."""
    if td.is_resource:
        return frozenset()
    return frozenset(("id", "url")) if td.key == "Extension" else frozenset(("id",))


@cache
def element_order(key: str) -> dict[str, int]:
    """Position of each JSON property of type `key` in its StructureDefinition (`_x` shares `x`'s)."""
    props = model().types[key].props
    order: dict[str, int] = {}
    for position, (name, prop) in enumerate(props.items()):
        order[name] = position if prop.kind != ELEMENT else order.get(name[1:], position)
    return order
