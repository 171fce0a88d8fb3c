"""UCUM units reduced to a canonical form, so quantity search compares `100 mg/dL` with `1 g/L`.

https://ucum.org/ucum — a unit expression is a product of atoms (with optional metric prefix
and integer exponent) joined by `.` and `/`, with parentheses, integer factors, `10*n`/`10^n`
and ignored `{annotations}`. Each expression reduces to a factor and a vector of base
dimensions (m, g, s, mol, K, C, cd, rad, and arbitrary units such as `[iU]` kept as their own
dimension). The canonical code spells that vector, e.g. `g.m-3` for mass concentration.
Special units on non-ratio scales (`Cel`, `[degF]`, `[pH]`) and unknown atoms give None.
"""

from __future__ import annotations

import re
from math import isfinite

Dimensions = dict[str, int]

PREFIXES: dict[str, float] = {
    "Y": 1e24, "Z": 1e21, "E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3, "h": 1e2, "da": 1e1,
    "d": 1e-1, "c": 1e-2, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15, "a": 1e-18, "z": 1e-21,
    "y": 1e-24,
}  # fmt: skip

_PA = (1000.0, {"g": 1, "m": -1, "s": -2})
_J = (1000.0, {"g": 1, "m": 2, "s": -2})

# atom -> (is metric, factor, dimensions)
ATOMS: dict[str, tuple[bool, float, Dimensions]] = {
    "1": (False, 1.0, {}),
    "m": (True, 1.0, {"m": 1}),
    "g": (True, 1.0, {"g": 1}),
    "s": (True, 1.0, {"s": 1}),
    "K": (True, 1.0, {"K": 1}),
    "C": (True, 1.0, {"C": 1}),
    "cd": (True, 1.0, {"cd": 1}),
    "rad": (True, 1.0, {"rad": 1}),
    "mol": (True, 1.0, {"mol": 1}),
    "eq": (True, 1.0, {"mol": 1}),
    "osm": (True, 1.0, {"mol": 1}),
    "kat": (True, 1.0, {"mol": 1, "s": -1}),
    "U": (True, 1e-6 / 60, {"mol": 1, "s": -1}),
    "L": (True, 1e-3, {"m": 3}),
    "l": (True, 1e-3, {"m": 3}),
    "t": (True, 1e6, {"g": 1}),
    "Hz": (True, 1.0, {"s": -1}),
    "N": (True, 1000.0, {"g": 1, "m": 1, "s": -2}),
    "Pa": (True, *_PA),
    "bar": (True, 1e5 * _PA[0], _PA[1]),
    "m[Hg]": (True, 133322.0 * _PA[0], _PA[1]),
    "m[H2O]": (True, 9806.65 * _PA[0], _PA[1]),
    "J": (True, *_J),
    "cal": (True, 4.184 * _J[0], _J[1]),
    "W": (True, 1000.0, {"g": 1, "m": 2, "s": -3}),
    "A": (True, 1.0, {"C": 1, "s": -1}),
    "V": (True, 1000.0, {"g": 1, "m": 2, "s": -2, "C": -1}),
    "[iU]": (True, 1.0, {"[iU]": 1}),
    "[IU]": (True, 1.0, {"[iU]": 1}),
    "min": (False, 60.0, {"s": 1}),
    "h": (False, 3600.0, {"s": 1}),
    "d": (False, 86400.0, {"s": 1}),
    "wk": (False, 604800.0, {"s": 1}),
    "mo": (False, 2629800.0, {"s": 1}),
    "a": (False, 31557600.0, {"s": 1}),
    "atm": (False, 101325.0 * _PA[0], _PA[1]),
    "%": (False, 1e-2, {}),
    "[ppth]": (False, 1e-3, {}),
    "[ppm]": (False, 1e-6, {}),
    "[in_i]": (False, 0.0254, {"m": 1}),
    "[ft_i]": (False, 0.3048, {"m": 1}),
    "[lb_av]": (False, 453.59237, {"g": 1}),
    "[oz_av]": (False, 28.349523125, {"g": 1}),
    "10*": (False, 10.0, {}),
    "10^": (False, 10.0, {}),
}

_TOKEN = re.compile(r"\{[^}]*\}|[./()]|[^./(){}]+")
_EXPONENT = re.compile(r"(?P<atom>.*?)(?P<exp>[+-]?\d+)?")


class _Unconvertible(Exception):
    """The expression is malformed or uses an atom this module does not know."""


def _combine(into: Dimensions, dims: Dimensions, power: int) -> None:
    for name, exponent in dims.items():
        into[name] = into.get(name, 0) + exponent * power
        if into[name] == 0:
            del into[name]


def _simple(text: str) -> tuple[float, Dimensions]:
    """An atom with optional prefix and exponent, or a bare integer factor."""
    if text.isdigit():
        return float(text), {}
    match = _EXPONENT.fullmatch(text)
    assert match is not None  # the pattern matches any text
    atom, exponent = match["atom"], int(match["exp"] or 1)
    if not atom:
        raise _Unconvertible(text)
    if atom in ATOMS:
        factor, dims = ATOMS[atom][1:]
    else:
        for size in (2, 1):
            prefix, rest = atom[:size], atom[size:]
            if prefix in PREFIXES and rest in ATOMS and ATOMS[rest][0]:
                factor, dims = PREFIXES[prefix] * ATOMS[rest][1], ATOMS[rest][2]
                break
        else:
            raise _Unconvertible(text)
    out: Dimensions = {}
    _combine(out, dims, exponent)
    return factor**exponent, out


class _Parser:
    """Recursive descent over `term := ['/'] component (('.'|'/') component)*`."""

    def __init__(self, code: str) -> None:
        self.tokens: list[str] = _TOKEN.findall(code)
        if "".join(self.tokens) != code:
            raise _Unconvertible(code)
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def term(self) -> tuple[float, Dimensions]:
        factor = 1.0
        dims: Dimensions = {}
        operator = "."
        if self._peek() == "/":
            operator = "/"
            self.pos += 1
        while True:
            part_factor, part_dims = self._component()
            power = 1 if operator == "." else -1
            factor *= part_factor**power
            _combine(dims, part_dims, power)
            token = self._peek()
            if token not in (".", "/"):
                return factor, dims
            operator = token
            self.pos += 1

    def _component(self) -> tuple[float, Dimensions]:
        token = self._peek()
        if token is None or token in (".", "/", ")"):
            raise _Unconvertible(token or "")
        self.pos += 1
        if token == "(":
            result = self.term()
            if self._peek() != ")":
                raise _Unconvertible("(")
            self.pos += 1
        elif token.startswith("{"):
            return 1.0, {}
        else:
            result = _simple(token)
        if (self._peek() or "").startswith("{"):
            self.pos += 1
        return result


def canonical_code(dims: Dimensions) -> str:
    """Spell a dimension vector the same way every time: `g.m-3`, or `1` when dimensionless."""
    parts = [name if exp == 1 else f"{name}{exp}" for name, exp in sorted(dims.items())]
    return ".".join(parts) or "1"


def canonicalize(value: float, code: str) -> tuple[float, str] | None:
    """`value code` in canonical units, e.g. (100, "mg/dL") -> (1000.0, "g.m-3"); None if not convertible."""
    if not code or not code.isascii() or " " in code:
        return None
    try:
        parser = _Parser(code)
        factor, dims = parser.term()
        if parser.pos != len(parser.tokens):
            return None
    except (_Unconvertible, OverflowError, ZeroDivisionError):
        return None
    result = value * factor
    if not isfinite(result):
        return None
    return float(f"{result:.12g}"), canonical_code(dims)
