"""FHIR XML (R4 xml.html) → the JSON structure the engine validates and stores.

Streaming over the standard library's expat (no tree is built). Safe by refusal: a document
type declaration, an entity declaration or a processing instruction ends the parse at once, so
no entity is ever expanded or fetched (as in profiles/xhtml.py); the document must be UTF-8.
Values keep their JSON types: booleans, integers as `int`, decimals as `FhirDecimal` with their
exact text. A value that does not parse as its type is passed on as the string it is, so the
validator reports it with its location like a wrong JSON type.

What is refused here, each with the FHIRPath of the element: XML that is not well-formed, a
root that is not a resource in the FHIR namespace, unknown elements or attributes, text outside
the `value` attribute, a single-valued element given twice, an element with neither value nor
children, a narrative `div` outside the XHTML namespace, a wrapper (`contained`,
`Bundle.entry.resource`, ...) without exactly one resource. The rest (cardinality, codes,
formats) is the validator's, as for JSON. The narrative is kept as the exact XHTML text sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from xml.parsers import expat

from profiles.model import COMPLEX, PRIMITIVE, RESOURCE, TypeDef, model

from ..decimals import FhirDecimal
from ..i18n import _
from .xml_model import FHIR_NS, XHTML_NS, attributes_of

_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_INTEGER_TYPES = frozenset(("integer", "positiveInt", "unsignedInt"))
MAX_DEPTH = 200
"""Elements open at once. The deepest official R4 example needs 12; the validator and the writer
recurse, so a body nested thousands deep is refused here rather than overflowing there."""


class InvalidXml(ValueError):
    """The body is not FHIR XML; `message` is for people, `location` the FHIRPath where it was found."""

    def __init__(self, message: str, location: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location


def _typed(type_code: str, text: str) -> Any:
    if type_code == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if type_code in _INTEGER_TYPES:
        return int(text) if _INTEGER.fullmatch(text) else text
    if type_code == "decimal":
        return FhirDecimal(text) if _DECIMAL.fullmatch(text) else text
    return text


class _Frame:
    """An open element: the JSON object it fills, or the wrapper waiting for its resource."""

    __slots__ = ("td", "obj", "path", "name", "value", "many", "seen", "counts", "primitive", "wrapper")

    def __init__(self, td: TypeDef | None, obj: dict[str, Any], path: str) -> None:
        self.td = td  # None for a wrapper of a resource
        self.obj = obj
        self.path = path
        self.name = ""  # the element name in its parent
        self.value: Any = None  # a primitive's value
        self.many = False
        self.primitive = False
        self.wrapper: dict[str, Any] | None = None  # the resource a wrapper received
        self.seen: set[str] = set()
        self.counts: dict[str, int] = {}


class _Reader:
    def __init__(self, raw: bytes, parser: Any) -> None:
        self.raw = raw
        self.parser = parser
        self.stack: list[_Frame] = []
        self.result: dict[str, Any] | None = None
        self.xhtml_depth = 0  # > 0 inside the narrative div
        self.xhtml_start = 0

    def fail(self, message: Callable[[], str], location: str | None = None, **values: str) -> None:
        raise InvalidXml(message().format(**{k: v[:200] for k, v in values.items()}), location)

    def start(self, qname: str, attributes: dict[str, str]) -> None:
        if self.xhtml_depth:
            self.xhtml_depth += 1
            return
        namespace, _sep, name = qname.rpartition(" ")
        if len(self.stack) >= MAX_DEPTH:
            self.fail(lambda: _("The XML is nested too deeply"), self.stack[-1].path)
        if not self.stack:
            return self.open_resource(namespace, name, attributes, None)
        parent = self.stack[-1]
        if parent.td is None:
            return self.open_resource(namespace, name, attributes, parent)
        if parent.primitive and name != "extension":
            self.fail(lambda: _("Unknown element '{name}'"), f"{parent.path}.{name}", name=name)
        prop = parent.td.props.get(name) if not name.startswith("_") else None
        path = f"{parent.path}.{name}"
        if prop is None or (namespace != FHIR_NS and prop.type != "xhtml"):
            self.fail(lambda: _("Unknown element '{name}'"), path, name=name)
        assert prop is not None
        if prop.many:
            index = parent.counts.get(name, 0)
            parent.counts[name] = index + 1
            path = f"{path}[{index}]"
        elif name in parent.seen:
            self.fail(lambda: _("The element '{name}' appears more than once"), path, name=name)
        parent.seen.add(name)
        if prop.type == "xhtml":
            return self.open_div(namespace, path, parent, name)
        if prop.kind == PRIMITIVE:
            frame = _Frame(model().types["Element"], {}, path)
            frame.primitive = True
            self.take_attributes(frame, attributes, ("id", "value"))
            frame.value = _typed(prop.type, attributes["value"]) if "value" in attributes else None
        elif prop.kind == RESOURCE:
            frame = _Frame(None, {}, path)
            self.take_attributes(frame, attributes, ())
        elif prop.kind == COMPLEX and prop.children is not None:
            frame = _Frame(prop.children, {}, path)
            self.take_attributes(frame, attributes, attributes_of(prop.children))
        frame.name, frame.many = name, prop.many
        self.stack.append(frame)

    def take_attributes(
        self, frame: _Frame, attributes: dict[str, str], allowed: tuple[str, ...] | frozenset[str]
    ) -> None:
        for attribute, value in attributes.items():
            if attribute not in allowed:
                self.fail(lambda: _("Unknown attribute '{name}'"), frame.path, name=attribute.rpartition(" ")[2])
            if attribute != "value":
                frame.obj[attribute] = value

    def open_resource(self, namespace: str, name: str, attributes: dict[str, str], wrapper: _Frame | None) -> None:
        td = model().types.get(name)
        path = wrapper.path if wrapper is not None else name
        if namespace != FHIR_NS or td is None or not td.is_resource:
            self.fail(
                lambda: _("'{name}' is not a FHIR resource in the namespace http://hl7.org/fhir"), path, name=name
            )
        assert td is not None
        if wrapper is not None and wrapper.wrapper is not None:
            self.fail(lambda: _("Only one resource may stand in this element"), path)
        for attribute in attributes:
            if wrapper is not None or not attribute.startswith(_XSI_NS + " "):
                self.fail(lambda: _("Unknown attribute '{name}'"), path, name=attribute.rpartition(" ")[2])
        frame = _Frame(td, {"resourceType": name}, path)
        if wrapper is not None:
            wrapper.wrapper = frame.obj
        self.stack.append(frame)

    def open_div(self, namespace: str, path: str, parent: _Frame, name: str) -> None:
        if namespace != XHTML_NS:
            self.fail(lambda: _("The narrative div must be in the XHTML namespace"), path)
        self.xhtml_depth, self.xhtml_start = 1, self.parser.CurrentByteIndex
        frame = _Frame(None, parent.obj, path)
        frame.name = name
        self.stack.append(frame)

    def end(self, _qname: str) -> None:
        if self.xhtml_depth > 1:
            self.xhtml_depth -= 1
            return
        frame = self.stack.pop()
        if self.xhtml_depth:
            self.xhtml_depth = 0
            frame.obj[frame.name] = self.div_text()
            return
        for name in frame.counts:
            self.tidy(frame.obj, name)
        if not self.stack:
            self.result = frame.obj
            return
        parent = self.stack[-1]
        if frame.td is None:
            if frame.wrapper is None:
                self.fail(lambda: _("A resource is expected inside this element"), frame.path)
            self.put(parent, frame.name, frame.many, frame.wrapper)
        elif frame.primitive:
            if frame.value is None and not frame.obj:
                self.fail(lambda: _("The element has neither a value nor extensions"), frame.path)
            self.put(parent, frame.name, frame.many, frame.value)
            self.put(parent, "_" + frame.name, frame.many, frame.obj or None)
        else:
            self.put(parent, frame.name, frame.many, frame.obj)

    @staticmethod
    def put(parent: _Frame, name: str, many: bool, value: Any) -> None:
        if many:
            parent.obj.setdefault(name, []).append(value)
        elif value is not None:
            parent.obj[name] = value

    @staticmethod
    def tidy(obj: dict[str, Any], name: str) -> None:
        """A repeating primitive: drop the value list or the `_` list when it holds only nulls."""
        for key in (name, "_" + name):
            if key in obj and all(item is None for item in obj[key]):
                del obj[key]

    def div_text(self) -> str:
        """The narrative exactly as sent, its namespace declared on the div if the sender declared it higher up."""
        head_end = _tag_end(self.raw, self.xhtml_start)
        empty = self.raw[head_end - 2 : head_end] == b"/>"
        end = head_end if empty else self.raw.index(b">", self.parser.CurrentByteIndex) + 1
        text = self.raw[self.xhtml_start : end].decode("utf-8")
        if b"xmlns" not in self.raw[self.xhtml_start : head_end]:
            tag = re.match(r"<([^\s/>]+)", text)
            assert tag is not None  # the text starts with the start tag expat has just read
            prefix = tag.group(1).rpartition(":")[0]
            declaration = f' xmlns:{prefix}="{XHTML_NS}"' if prefix else f' xmlns="{XHTML_NS}"'
            text = text[: tag.end()] + declaration + text[tag.end() :]
        return text

    def text(self, data: str) -> None:
        if not self.xhtml_depth and data.strip():
            location = self.stack[-1].path if self.stack else None
            self.fail(lambda: _("Text is not allowed here: FHIR XML gives values in the 'value' attribute"), location)


def _tag_end(raw: bytes, start: int) -> int:
    """The index just after the tag starting at `start` (quotes in attribute values skipped)."""
    quote = 0
    for index in range(start, len(raw)):
        byte = raw[index]
        if quote:
            quote = 0 if byte == quote else quote
        elif byte in (0x22, 0x27):
            quote = byte
        elif byte == 0x3E:
            return index + 1
    return len(raw)


def _refuse(*_args: object) -> None:
    raise InvalidXml(
        _("FHIR XML may not contain a document type, entity declarations or processing instructions"), None
    )


def _declaration(_version: str | None, encoding: str | None, _standalone: int) -> None:
    if encoding is not None and encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise InvalidXml(_("FHIR XML must be encoded in UTF-8"), None)


def parse_xml(raw: bytes) -> dict[str, Any]:
    """The resource in the XML document `raw`, as FHIR JSON structure. Raises InvalidXml."""
    parser = expat.ParserCreate("UTF-8", " ")
    reader = _Reader(raw, parser)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ProcessingInstructionHandler = _refuse
    parser.XmlDeclHandler = _declaration
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        where = _("line {line}, column {column}").format(line=exc.lineno, column=exc.offset + 1)
        message = _("The body is not well-formed XML ({where}): {error}")
        raise InvalidXml(message.format(where=where, error=expat.ErrorString(exc.code)), None) from None
    assert reader.result is not None
    return reader.result
