"""Parse a search query string once, into a typed request. https://hl7.org/fhir/R4/search.html

Parameter names are resolved against the registry here: chains (`subject:Patient.name`)
become links to follow, `_has:Observation:patient:code` becomes a reverse link, and the
last segment names the parameter the values apply to. Parameters this server does not
know are refused (400), as HAPI does: a misspelt `nmae=` would otherwise find every patient.
Under `Prefer: handling=lenient` they are ignored, left out of the self link and named in a
warning (search.html#errors). The bounds of search/limits.py are checked here, before any query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import InvalidRequest, Issue
from ..i18n import _
from .definitions import SearchParameterDef
from .escaping import split_unescaped
from .limits import DEFAULT_LIMITS, SearchLimits, check_at_most
from .registry import SearchRegistry

IGNORED_PARAMETERS = ("_format", "_pretty")
"""Accepted and harmless: the answer is always JSON, and formatting is the client's business."""

RESULT_PARAMETERS = ("_count", "_offset", "_cursor", "_sort", "_summary", "_total", "_elements", *IGNORED_PARAMETERS)
"""Parameters that shape the result and take no modifier."""

MAX_SORT_KEYS = 10
"""Keys of one `_sort`; MongoDB sorts on at most 32 fields, and every key costs."""

MAX_OFFSET = 10**9
"""A larger `_offset` is refused: skipping that many matches is work the database must do."""

SUMMARY_MODES = ("true", "text", "data", "count", "false")
TOTAL_MODES = ("none", "estimate", "accurate")


class Link(NamedTuple):
    """One step of a chain: follow reference parameter `code` to resources of type `target`."""

    code: str
    target: str


class ReverseLink(NamedTuple):
    """One `_has` step: resources of `source` whose reference parameter `code` points back here."""

    source: str
    code: str


class Filter(NamedTuple):
    """One search parameter occurrence: a comma means OR, a repeated parameter means AND.

    `definition` applies to the type reached after `has` and `chain`; `name` is the
    parameter as the client wrote it (for the self link).
    """

    name: str
    definition: SearchParameterDef
    modifier: str | None
    values: tuple[str, ...]
    chain: tuple[Link, ...] = ()
    has: tuple[ReverseLink, ...] = ()

    @property
    def code(self) -> str:
        return self.definition.code


class Include(NamedTuple):
    """`_include=Source:param[:Target]` or `_revinclude=...`; `code` None means `*`."""

    source: str
    code: str | None
    target: str | None
    iterate: bool
    reverse: bool


class SortKey(NamedTuple):
    code: str
    descending: bool


@dataclass(frozen=True)
class SearchRequest:
    resource_type: str
    filters: tuple[Filter, ...]
    count: int
    cursor: str | None = None
    offset: int = 0
    sort: tuple[SortKey, ...] = ()
    includes: tuple[Include, ...] = ()
    summary: str = "false"
    elements: tuple[str, ...] = ()
    total: str = "accurate"
    unknown: tuple[str, ...] = ()
    echoed: tuple[tuple[str, str], ...] = field(default=())
    """The parameters that took effect, as sent, for the self link."""
    notes: tuple[Issue, ...] = ()
    """Warnings for the Bundle: parameters ignored under `handling=lenient`, a `_count` capped."""
    limits: SearchLimits = DEFAULT_LIMITS


def parse_count(raw: str, default: int, maximum: int, parameter: str = "_count") -> int:
    """A page size or offset: a non-negative integer, capped at `maximum` (thousands of digits included)."""
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidRequest(
            _("'{value}' is not a valid value for '{parameter}': a whole number is expected.").format(
                value=raw[:40], parameter=parameter
            ),
            expression=parameter,
        )
    digits = raw.lstrip("0")
    return maximum if len(digits) > len(str(maximum)) else min(int(digits or "0"), maximum)


class _Unknown(Exception):
    """The parameter name does not resolve; lenient searches skip it."""


class _Parser:
    def __init__(self, registry: SearchRegistry, resource_type: str, limits: SearchLimits) -> None:
        self.registry = registry
        self.resource_type = resource_type
        self.limits = limits

    def _definition(self, resource_type: str, code: str) -> SearchParameterDef:
        definition = self.registry.get(resource_type, code)
        if definition is None:
            raise _Unknown
        return definition

    def filter(self, name: str, raw: str) -> Filter:
        rest, current, has = name, self.resource_type, []
        while rest.startswith("_has:"):
            parts = rest.split(":", 3)
            if len(parts) < 4:
                raise InvalidRequest(
                    _("'{name}' is not a valid _has parameter: use _has:Type:parameter:name.").format(name=name),
                    expression=name,
                )
            _has, source, code, rest = parts
            if self._definition(source, code).type != "reference":
                raise _Unknown
            has.append(ReverseLink(source, code))
            current = source
        *steps, last = rest.split(".")
        links = []
        for step in steps:
            code, _sep, target = step.partition(":")
            definition = self._definition(current, code)
            if definition.type != "reference":
                raise InvalidRequest(
                    _("'{code}' is not a reference parameter, so '{name}' cannot chain through it.").format(
                        code=code, name=name
                    ),
                    expression=name,
                )
            if not target:
                if len(definition.targets) != 1:
                    raise InvalidRequest(
                        _("'{code}' may point to several types; name one, as in {code}:Patient.").format(code=code),
                        expression=name,
                    )
                target = definition.targets[0]
            links.append(Link(code, target))
            current = target
        code, _sep, modifier = last.partition(":")
        definition = self._definition(current, code)
        values = split_unescaped(raw, ",")
        limits = self.limits
        check_at_most(
            len(has), limits.has_depth, _("'{name}' nests {count} _has steps; at most {limit} are allowed."), name
        )
        check_at_most(
            len(links), limits.chain_depth, _("'{name}' chains {count} references; at most {limit} are allowed."), name
        )
        check_at_most(len(values), limits.values, _("'{name}' has {count} values; at most {limit} are allowed."), name)
        return Filter(name, definition, modifier or None, tuple(values), tuple(links), tuple(has))

    def include(self, name: str, raw: str) -> Include:
        base, _sep, modifier = name.partition(":")
        reverse = base == "_revinclude"
        if modifier not in ("", "iterate", "recurse"):
            raise InvalidRequest(_("Unknown modifier '{modifier}' on {name}.").format(modifier=modifier, name=base))
        if raw == "*":
            return Include(self.resource_type, None, None, bool(modifier), reverse)
        parts = raw.split(":")
        if len(parts) not in (2, 3):
            raise InvalidRequest(
                _("'{value}' is not a valid {name} value: use Type:parameter[:TargetType].").format(
                    value=raw[:80], name=base
                ),
                expression=base,
            )
        source, code = parts[0], parts[1]
        if self._definition(source, code).type != "reference":
            raise InvalidRequest(
                _("'{code}' is not a reference parameter of {type}.").format(code=code, type=source), expression=base
            )
        return Include(source, code, parts[2] if len(parts) == 3 else None, bool(modifier), reverse)

    def sort(self, raw: str) -> tuple[SortKey, ...]:
        keys = []
        items = list(dict.fromkeys(raw.split(",")))
        check_at_most(len(items), MAX_SORT_KEYS, _("'_sort' names {count} keys; at most {limit} are allowed."), "_sort")
        for item in items:
            code = item.removeprefix("-")
            if self.registry.get(self.resource_type, code) is None:
                raise InvalidRequest(
                    _("Cannot sort by '{code}': it is not a search parameter of {type}.").format(
                        code=code, type=self.resource_type
                    ),
                    expression="_sort",
                )
            keys.append(SortKey(code, item.startswith("-")))
        return tuple(keys)


def refuse_unknown(unknown: Sequence[str], strict: bool, interaction: str) -> None:
    """When `strict`, raise InvalidRequest with an issue naming each parameter that was not understood."""
    if strict and unknown:
        text = _("Unknown or unsupported {interaction} parameter '{name}'.")
        names = sorted(set(unknown))
        raise InvalidRequest(
            _("Unknown or unsupported {interaction} parameters: {names}.").format(
                interaction=interaction, names=", ".join(names)
            ),
            issues=[Issue("error", "not-supported", text.format(interaction=interaction, name=n), n) for n in names],
        )


def ignored_notes(unknown: Sequence[str]) -> tuple[Issue, ...]:
    """The warnings that tell a lenient client which parameters were ignored."""
    text = _("The search parameter '{name}' is unknown or not supported here; it was ignored.")
    return tuple(Issue("warning", "not-supported", text.format(name=n), n) for n in sorted(set(unknown)))


def _choice(raw: str, allowed: Sequence[str], parameter: str) -> str:
    if raw not in allowed:
        raise InvalidRequest(
            _("'{value}' is not a valid value for '{parameter}': use one of {allowed}.").format(
                value=raw[:40], parameter=parameter, allowed=", ".join(allowed)
            ),
            expression=parameter,
        )
    return raw


def parse_search_request(
    resource_type: str,
    query: Sequence[tuple[str, str]],
    registry: SearchRegistry,
    *,
    default_count: int,
    max_count: int,
    strict: bool,
    limits: SearchLimits = DEFAULT_LIMITS,
) -> SearchRequest:
    """Turn query pairs into a SearchRequest; raise InvalidRequest for a malformed or (strict) unknown parameter.

    Not `strict` (`handling=lenient`), unknown parameters are ignored and named in `notes`.
    Raises TooCostly (400) for a request over `limits`.
    """
    check_parameter_count(query, limits)
    parser = _Parser(registry, resource_type, limits)
    notes: list[Issue] = []
    filters: list[Filter] = []
    includes: list[Include] = []
    unknown: list[str] = []
    echoed: list[tuple[str, str]] = []
    count, offset, cursor = default_count, 0, None
    sort: tuple[SortKey, ...] = ()
    summary, total = "false", "accurate"
    elements: tuple[str, ...] = ()
    for name, raw in query:
        base, _sep, modifier = name.partition(":")
        if modifier and base in RESULT_PARAMETERS:
            raise InvalidRequest(_("'{name}' takes no modifier.").format(name=base), expression=name)
        if base in IGNORED_PARAMETERS:
            continue
        if base == "_cursor":
            cursor = raw
            continue
        if base == "_offset":
            offset = parse_count(raw, 0, MAX_OFFSET + 1, "_offset")
            check_at_most(offset, MAX_OFFSET, _("'_offset' may be at most {limit}."), "_offset")
            continue  # a paging position: the links add their own
        if base == "_count":
            count = parse_count(raw, default_count, max_count)
            if count == max_count and raw.lstrip("0") != str(max_count):
                text = _("'_count' is capped at {limit}: pages hold at most {limit} matches.")
                notes.append(Issue("warning", "too-costly", text.format(limit=max_count), "_count"))
        elif base == "_sort":
            sort = parser.sort(raw)
        elif base in ("_include", "_revinclude"):
            includes.append(parser.include(name, raw))
        elif base == "_summary":
            summary = _choice(raw, SUMMARY_MODES, "_summary")
        elif base == "_total":
            total = _choice(raw, TOTAL_MODES, "_total")
        elif base == "_elements":
            elements = tuple(e.strip() for e in raw.split(",") if e.strip())
        else:
            try:
                filters.append(parser.filter(name, raw))
            except _Unknown:
                unknown.append(name)
                continue
        echoed.append((name, raw))
    refuse_unknown(unknown, strict, "search")
    includes = list(dict.fromkeys(includes))
    check_at_most(
        len(includes),
        limits.includes,
        _("This search has {count} _include and _revinclude parameters; at most {limit} are allowed."),
        "_include",
    )
    return SearchRequest(
        resource_type,
        tuple(filters),
        count,
        cursor=cursor,
        offset=offset,
        sort=sort,
        includes=tuple(includes),
        summary=summary,
        elements=elements,
        total=total,
        unknown=tuple(unknown),
        echoed=tuple(echoed),
        notes=(*notes, *ignored_notes(unknown)),
        limits=limits,
    )


def check_parameter_count(query: Sequence[tuple[str, str]], limits: SearchLimits) -> None:
    """Refuse (400 too-costly) a request with more parameters than `limits` allow."""
    check_at_most(len(query), limits.parameters, _("This search has {count} parameters; at most {limit} are allowed."))
