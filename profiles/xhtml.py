"""Narrative XHTML: the checks of R4 Narrative.div (narrative.html#xhtml, invariant txt-1).

Every client that renders narrative shows this markup, so markup beyond what R4 allows is a
stored-XSS risk, not a style question. The div must be well-formed XML whose root is a `div` in
the XHTML namespace, with only the elements and attributes txt-1 lists (no script, form, iframe,
object, embed, style or link elements, no event attributes such as `onerror`) and no
`javascript:`-like URL. txt-2 (some text or an image) is not enforced: four official R4
examples have an empty div, and an empty div harms no reader.

Parsed with the standard library's expat, streaming (no tree is built). A document type
declaration is refused before expat reads any entity, so no entity is ever expanded or fetched
(expat itself never fetches external entities and bounds expansion since 2.4.1; refusing the
DTD makes neither matter). Named HTML entities such as `&nbsp;` are not XML and are refused too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.parsers import expat

from fhir_server.i18n import _

XHTML_NS = "http://www.w3.org/1999/xhtml"
_XML_NS = "http://www.w3.org/XML/1998/namespace"

# fmt: off
ELEMENTS = frozenset((
    "a", "abbr", "acronym", "b", "big", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "dfn", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre",
    "q", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "tt", "ul", "var",
))
"""txt-1's elements (R4 Narrative StructureDefinition)."""
ATTRIBUTES = frozenset((
    "abbr", "accesskey", "align", "alt", "axis", "bgcolor", "border", "cellhalign", "cellpadding", "cellspacing",
    "cellvalign", "char", "charoff", "charset", "cite", "class", "colspan", "compact", "coords", "dir", "frame",
    "headers", "height", "href", "hreflang", "hspace", "id", "lang", "longdesc", "name", "nowrap", "rel", "rev",
    "rowspan", "rules", "scope", "shape", "span", "src", "start", "style", "summary", "tabindex", "title", "type",
    "valign", "value", "vspace", "width",
))
"""txt-1's attributes; `xml:lang` is allowed beside them (the XML form of `lang`)."""
# fmt: on
_URL_ATTRIBUTES = frozenset(("href", "src", "cite", "longdesc"))
_SCRIPT_URL = re.compile(r"(?:javascript|vbscript|data(?!:image/))\s*:", re.IGNORECASE)
_SCRIPT_STYLE = re.compile(r"expression\s*\(|javascript\s*:|vbscript\s*:|@import|behavior\s*:", re.IGNORECASE)
_IGNORED = re.compile(r"[\x00-\x20]+")

Problem = tuple[str, Callable[[], str]]


class _Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__()
        self.problem = problem


def _named(template: Callable[[], str], name: str) -> Callable[[], str]:
    """A message naming an element or attribute; braces doubled, since the caller formats it again."""
    safe = name[:64].replace("{", "{{").replace("}", "}}")
    return lambda: template().format(name=safe)


def _local(name: str) -> tuple[str, str]:
    """(namespace, local name) of an expat name split with a space."""
    namespace, _sep, local = name.rpartition(" ")
    return namespace, local


class _Walk:
    """Expat handlers: each element and attribute checked as it is read."""

    def __init__(self) -> None:
        self.root_seen = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        namespace, local = _local(name)
        if not self.root_seen and (local != "div" or namespace != XHTML_NS):
            raise _Refused(("invariant", lambda: _("The narrative must be one div in the XHTML namespace (txt-1)")))
        if namespace != XHTML_NS or local not in ELEMENTS:
            raise _Refused(
                ("invariant", _named(lambda: _("The narrative may not contain the element <{name}> (txt-1)"), local))
            )
        self.root_seen = True
        for attribute, value in attributes.items():
            self._attribute(attribute, value)

    def _attribute(self, name: str, value: str) -> None:
        namespace, local = _local(name)
        if not (namespace == "" and local in ATTRIBUTES) and not (namespace == _XML_NS and local == "lang"):
            raise _Refused(
                ("invariant", _named(lambda: _("The narrative may not use the attribute '{name}' (txt-1)"), local))
            )
        if local in _URL_ATTRIBUTES and _SCRIPT_URL.match(_IGNORED.sub("", value)):
            raise _Refused(("invariant", lambda: _("The narrative may not link to a script URL (txt-1)")))
        if local == "style" and _SCRIPT_STYLE.search(value):
            raise _Refused(("invariant", lambda: _("The narrative may not use scripts in a style attribute (txt-1)")))


def _refuse_dtd(*_args: object) -> None:
    raise _Refused(("invariant", lambda: _("The narrative may not declare a document type or entities")))


def check_div(value: str) -> Problem | None:
    """None when `value` is valid FHIR narrative XHTML, else (issue code, message)."""
    walk = _Walk()
    parser = expat.ParserCreate("UTF-8", " ")
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.StartElementHandler = walk.start
    try:
        parser.Parse(value.encode("utf-8", "surrogatepass"), True)
    except _Refused as refused:
        return refused.problem
    except (expat.ExpatError, UnicodeEncodeError):
        return ("invariant", lambda: _("The narrative is not well-formed XML"))
    return None
