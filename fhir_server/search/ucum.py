"""UCUM units reduced to a canonical form, so quantity search compares `100 mg/dL` with `1 g/L`.

https://ucum.org/ucum — a unit expression is a product of atoms (with optional metric prefix
and integer exponent) joined by `.` and `/`, with parentheses, integer factors, `10*n`/`10^n`
and ignored `{annotations}`. Each expression reduces to a factor and a vector of base
dimensions (m, g, s, mol, K, C, cd, rad, and arbitrary units such as `[iU]` kept as their own
dimension). The canonical code spells that vector, e.g. `g.m-3` for mass concentration.
Special units on non-ratio scales (`Cel`, `[degF]`, `[pH]`) and unknown atoms give None.

Factors are exact fractions (`1/60` for `/min`), so the canonical value is the exact product
rounded once to decimal128: equal quantities in different units get equal canonical values.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from ..decimals import nearest_decimal128

Dimensions = dict[str, int]

PREFIXES: dict[str, Fraction] = {
    name: Fraction(10) ** power
    for name, power in (
        ("Y", 24), ("Z", 21), ("E", 18), ("P", 15), ("T", 12), ("G", 9), ("M", 6), ("k", 3), ("h", 2), ("da", 1),
        ("d", -1), ("c", -2), ("m", -3), ("u", -6), ("n", -9), ("p", -12), ("f", -15), ("a", -18), ("z", -21),
        ("y", -24),
    )
}  # fmt: skip

_ONE = Fraction(1)
_PA = (Fraction(1000), {"g": 1, "m": -1, "s": -2})
_J = (Fraction(1000), {"g": 1, "m": 2, "s": -2})

# atom -> (is metric, factor, dimensions)
ATOMS: dict[str, tuple[bool, Fraction, Dimensions]] = {
    "1": (False, _ONE, {}),
    "m": (True, _ONE, {"m": 1}),
    "g": (True, _ONE, {"g": 1}),
    "s": (True, _ONE, {"s": 1}),
    "K": (True, _ONE, {"K": 1}),
    "C": (True, _ONE, {"C": 1}),
    "cd": (True, _ONE, {"cd": 1}),
    "rad": (True, _ONE, {"rad": 1}),
    "mol": (True, _ONE, {"mol": 1}),
    "eq": (True, _ONE, {"mol": 1}),
    "osm": (True, _ONE, {"mol": 1}),
    "kat": (True, _ONE, {"mol": 1, "s": -1}),
    "U": (True, Fraction(1, 60_000_000), {"mol": 1, "s": -1}),
    "L": (True, Fraction("1e-3"), {"m": 3}),
    "l": (True, Fraction("1e-3"), {"m": 3}),
    "t": (True, Fraction(10**6), {"g": 1}),
    "Hz": (True, _ONE, {"s": -1}),
    "N": (True, Fraction(1000), {"g": 1, "m": 1, "s": -2}),
    "Pa": (True, *_PA),
    "bar": (True, 10**5 * _PA[0], _PA[1]),
    "m[Hg]": (True, 133322 * _PA[0], _PA[1]),
    "m[H2O]": (True, Fraction("9806.65") * _PA[0], _PA[1]),
    "J": (True, *_J),
    "cal": (True, Fraction("4.184") * _J[0], _J[1]),
    "W": (True, Fraction(1000), {"g": 1, "m": 2, "s": -3}),
    "A": (True, _ONE, {"C": 1, "s": -1}),
    "V": (True, Fraction(1000), {"g": 1, "m": 2, "s": -2, "C": -1}),
    "[iU]": (True, _ONE, {"[iU]": 1}),
    "[IU]": (True, _ONE, {"[iU]": 1}),
    "min": (False, Fraction(60), {"s": 1}),
    "h": (False, Fraction(3600), {"s": 1}),
    "d": (False, Fraction(86400), {"s": 1}),
    "wk": (False, Fraction(604800), {"s": 1}),
    "mo": (False, Fraction(2629800), {"s": 1}),
    "a": (False, Fraction(31557600), {"s": 1}),
    "atm": (False, 101325 * _PA[0], _PA[1]),
    "%": (False, Fraction("1e-2"), {}),
    "[ppth]": (False, Fraction("1e-3"), {}),
    "[ppm]": (False, Fraction("1e-6"), {}),
    "[in_i]": (False, Fraction("0.0254"), {"m": 1}),
    "[ft_i]": (False, Fraction("0.3048"), {"m": 1}),
    "[lb_av]": (False, Fraction("453.59237"), {"g": 1}),
    "[oz_av]": (False, Fraction("28.349523125"), {"g": 1}),
    "10*": (False, Fraction(10), {}),
    "10^": (False, Fraction(10), {}),
}
MAX_CODE = 64
MAX_EXPONENT = 99
"""Limits on a code this module reads: real codes are short; the exact factor of a long one grows without end."""

_TOKEN = re.compile(r"\{[^}]*\}|[./()]|[^./(){}]+")
_EXPONENT = re.compile(r"(?P<atom>.*?)(?P<exp>[+-]?\d+)?")


class _Unconvertible(Exception):
    """The expression is malformed or uses an atom this module does not know."""


def _combine(into: Dimensions, dims: Dimensions, power: int) -> None:
    for name, exponent in dims.items():
        into[name] = into.get(name, 0) + exponent * power
        if into[name] == 0:
            del into[name]


def _simple(text: str) -> tuple[Fraction, Dimensions]:
    """An atom with optional prefix and exponent, or a bare integer factor."""
    if text.isdigit():
        return Fraction(int(text)), {}
    match = _EXPONENT.fullmatch(text)
    assert match is not None  # the pattern matches any text
    atom, exponent = match["atom"], int(match["exp"] or 1)
    if not atom or abs(exponent) > MAX_EXPONENT:
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

    def term(self) -> tuple[Fraction, Dimensions]:
        factor = _ONE
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

    def _component(self) -> tuple[Fraction, Dimensions]:
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
            return _ONE, {}
        else:
            result = _simple(token)
        if (self._peek() or "").startswith("{"):
            self.pos += 1
        return result


def canonical_code(dims: Dimensions) -> str:
    """Spell a dimension vector the same way every time: `g.m-3`, or `1` when dimensionless."""
    parts = [name if exp == 1 else f"{name}{exp}" for name, exp in sorted(dims.items())]
    return ".".join(parts) or "1"


def unit_factor(code: str) -> tuple[Fraction, str] | None:
    """The exact factor to the canonical unit and that unit's code, e.g. "mg/dL" -> (10, "g.m-3"); None if unknown."""
    if not code or len(code) > MAX_CODE or not code.isascii() or " " in code:
        return None
    try:
        parser = _Parser(code)
        factor, dims = parser.term()
        if parser.pos != len(parser.tokens):
            return None
    except (_Unconvertible, ZeroDivisionError):
        return None
    return factor, canonical_code(dims)


def scale(value: Decimal | int, factor: Fraction) -> Decimal:
    """`value` times `factor`, rounded once to decimal128 (infinite beyond its range)."""
    return nearest_decimal128(Fraction(value) * factor)
