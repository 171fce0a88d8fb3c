"""FHIR JSON in and out with decimals kept exactly, and request bodies checked for duplicate keys.

Every JSON number with a fraction or an exponent is read as a `FhirDecimal` and written back as
the text it was read from (R4 json.html: decimals are JSON numbers whose precision must be
kept); integers stay `int` unless they exceed 64 bits, which orjson cannot write, and become
`FhirDecimal`s too. The standard library reads (its scanner hands over number texts); orjson
writes, with a `Fragment` for each decimal.

An object that repeats a key has no agreed meaning (RFC 8259 section 4; parsers keep the first or
the last). `loads(..., unique_keys=True)` refuses it, naming every repeated key and where it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import orjson

from .decimals import FhirDecimal

__all__ = ["InvalidJson", "dumps", "loads"]

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONGEST_SAFE_INT = 18  # digits: every integer this long fits in 64 bits


class _DuplicateKey(Exception):
    """Raised inside the parser at the first repeated key; `loads` then looks for every one."""


class InvalidJson(ValueError):
    """The text is not JSON (the message says why), or an object repeats keys (`duplicates`)."""

    def __init__(self, message: str, duplicates: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.duplicates = duplicates or []
        """(key, FHIRPath of the repeated element), in document order."""


class _Pairs(list[tuple[str, Any]]):
    """An object as its key/value pairs, repeated keys kept, for locating them."""


def _integer(text: str) -> int | FhirDecimal:
    if len(text) <= _LONGEST_SAFE_INT or (text[0] == "-" and len(text) <= _LONGEST_SAFE_INT + 1):
        return int(text)
    return FhirDecimal(text)


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _DuplicateKey
    return found


def _decoder(object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> json.JSONDecoder:
    return json.JSONDecoder(
        parse_float=FhirDecimal, parse_int=_integer, parse_constant=_constant, object_pairs_hook=object_pairs_hook
    )


_PLAIN, _UNIQUE, _PAIRS = _decoder(), _decoder(_unique), _decoder(_Pairs)


def loads(raw: bytes | str, *, unique_keys: bool = False) -> Any:
    """The JSON value of UTF-8 `raw`, decimals as `FhirDecimal`. Raises InvalidJson.

    :param unique_keys: refuse objects that repeat a key (request bodies, imported files).
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InvalidJson(str(exc)) from None
    try:
        value = _decode(_UNIQUE if unique_keys else _PLAIN, text)
    except _DuplicateKey:
        pairs = _decode(_PAIRS, text)
        try:
            duplicates = list(_duplicates(pairs))
        except RecursionError:
            raise InvalidJson("nested too deeply") from None
        raise InvalidJson(f"repeated key: {duplicates[0][1]}", duplicates) from None
    if _SURROGATE_ESCAPE.search(text):
        _no_lone_surrogates(text)
    return value


def _decode(decoder: json.JSONDecoder, text: str) -> Any:
    try:
        return decoder.decode(text)
    except RecursionError:
        raise InvalidJson("nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and `_constant`
        raise InvalidJson(str(exc)) from None


def _no_lone_surrogates(text: str) -> None:
    """The standard library accepts an escaped lone surrogate, which is no character; orjson refuses it."""
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "surrogate" in str(exc):
            raise InvalidJson(str(exc)) from None


def _duplicates(node: Any, path: str | None = None) -> Iterator[tuple[str, str]]:
    if isinstance(node, _Pairs):
        if path is None:
            kind = dict(node).get("resourceType")
            path = kind if isinstance(kind, str) and kind else "$"
        seen: set[str] = set()
        for key, value in node:
            if key in seen:
                yield key, f"{path}.{key}"
            seen.add(key)
            yield from _duplicates(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _duplicates(item, f"{path or '$'}[{index}]")


def _decimal(value: Any) -> orjson.Fragment:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, option: int | None = None) -> bytes:
    """`value` as JSON bytes (orjson), each Decimal as its exact text."""
    return orjson.dumps(value, default=_decimal, option=option)
