"""Search keys: the flat strings one single-field index holds, so writes stay cheap.

A compound multikey index per entry key (`(type, idx.p, idx.c)` ...) made every write pay for
nine index trees; SecantusDB inserts ~6x slower with them than with one index over a flat array
of strings. So beside `idx` each current resource carries `keys`, one string per indexed value:

    <Type>|<param>|<kind><value>

| kind | from the entry          | value                                                    |
| ---- | ----------------------- | -------------------------------------------------------- |
| `c`  | token code `c`          | the code, without its system (the filter checks that)    |
| `r`  | reference `r`           | "Type/id" or the URL                                     |
| `u`  | uri `u`                 | the URI                                                  |
| `v`  | string `v`              | the normalized string (`:exact` drives by it too)        |
| `l`  | date `lo`               | `instant_key`, fixed-width UTC digits to the millisecond |
| `h`  | date `hi`               | the same, so a prefix can drive by either bound          |
| `n`  | number/quantity `n`     | `number_key`, an order-preserving hex form of its float  |
| `q`  | quantity `cn`           | the same, of the UCUM-canonical value                    |

Besides one key per entry, a resource with a patient reference (`patient` or `subject`) and a `status`
code carries one key per (reference, status) pair, `<Type>|<param>+status|<reference>|<code>`: a
patient's active records are then found without walking the patient's every record of the type (a
patient's stopped prescriptions, final observations ... grow without end; their status does not).

Some parameters' values are among another's values on the types that have both: a name's parts
(`family`, `given`) and its `phonetic` form are among its `name`'s, a city among the `address`'s, a
phone number among the `telecom`'s. Their keys go under that other parameter (`SHARED_KEYS`), so
a Patient carries one key per name part instead of four: updates rewrite every key of a resource,
and this cuts a Patient's keys by a third. Sharing never costs a match: a search on the sharing
parameter drives by the shared name, and its `$elemMatch` filter checks the parameter itself.

The type is part of the key: a search asks for one type, and the same code or patient
reference in other types would otherwise come back as candidates to throw away. Text values
are cut at `TEXT_LIMIT` characters, so a key finds a superset; the full `$elemMatch` filter
on `idx` checks every candidate. Token systems, `:text`, composites and `:contains` have no
key: such a clause cannot drive, another clause (or a scan of the type) does.

Numbers are exact decimals, keys are floats: rounding to the nearest float keeps `<=` order but
can make two decimals one float, so a numeric range on keys always includes its ends (a superset
again, which the `$elemMatch` filter on the exact values narrows).

A range is given as plain bounds on the array, not as `$elemMatch`: SecantusDB scans the
collection for an `$elemMatch` on it, and scans the index between both bounds for plain ones
(the bounds may hold in different keys of one resource: a superset again). MongoDB would use
only one of the bounds there; run on it, ranges want `$elemMatch`.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

TEXT_LIMIT = 64
"""Characters of a text value kept in its key."""

_TEXT_KINDS = ("r", "c", "u", "v")
_RANGE_KINDS = {"lo": "l", "hi": "h", "n": "n", "cn": "q"}
_MILLISECOND = timedelta(milliseconds=1)
_LAST_MILLISECOND = datetime.max.replace(microsecond=999_000, tzinfo=UTC)
_INCLUSIVE = {"$gt": "$gte", "$lt": "$lte"}


def number_key(value: float) -> str:
    """A string that sorts as the number does: the IEEE 754 bits, sign-flipped, as hex.

    Positive numbers get their sign bit set, negative ones all bits inverted, so unsigned
    order is numeric order. Trailing zeros are dropped (order is kept: a dropped digit was
    the smallest); -0.0 is taken as 0.0, as the database compares them equal.
    """
    (bits,) = struct.unpack(">Q", struct.pack(">d", value + 0.0))
    bits = bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | 1 << 63
    return f"{bits:016x}".rstrip("0")


def instant_key(moment: datetime) -> str:
    """`YYYYMMDDhhmmssfff` in UTC, cut to the millisecond as a BSON date is (naive means UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}{moment.microsecond // 1000:03d}"
    )


SHARED_KEYS = {
    **dict.fromkeys(("family", "given", "phonetic"), "name"),
    **dict.fromkeys(("address-city", "address-country", "address-postalcode", "address-state"), "address"),
    **dict.fromkeys(("phone", "email"), "telecom"),
}
"""Parameter -> the parameter whose keys hold its values too (see above)."""


def key_prefix(resource_type: str, code: str, kind: str) -> str:
    """Where the keys of one kind of a parameter's values start (under the parameter it shares keys with)."""
    return f"{resource_type}|{SHARED_KEYS.get(code, code)}|{kind}"


def entry_keys(resource_type: str, entry: dict[str, Any]) -> list[str]:
    """The keys of one `idx` entry (see the table above); composites and text-only tokens have none."""
    prefix = key_prefix(resource_type, entry["p"], "")
    if "lo" in entry:
        return [f"{prefix}l{instant_key(entry['lo'])}", f"{prefix}h{instant_key(entry['hi'])}"]
    if "n" in entry:
        found = [f"{prefix}n{number_key(float(entry['n']))}"]
        if "cn" in entry:
            found.append(f"{prefix}q{number_key(float(entry['cn']))}")
        return found
    for kind in _TEXT_KINDS:
        value = entry.get(kind)
        if value is not None:
            return [f"{prefix}{kind}{value[:TEXT_LIMIT]}"]
    return []


PAIRED_REFERENCES = ("patient", "subject")
"""Reference parameters paired with `status` in a key of their own."""

PAIRED_TOKEN = "status"


def pair_key(resource_type: str, param: str, reference: str, code: str) -> str:
    """The key of one (patient reference, status code) pair; both values cut as their own keys are."""
    return f"{resource_type}|{param}+{PAIRED_TOKEN}|{reference[:TEXT_LIMIT]}|{code[:TEXT_LIMIT]}"


def _pair_keys(resource_type: str, entries: list[dict[str, Any]]) -> list[str]:
    references = [(e["p"], e["r"]) for e in entries if e["p"] in PAIRED_REFERENCES and isinstance(e.get("r"), str)]
    codes = [e["c"] for e in entries if e["p"] == PAIRED_TOKEN and isinstance(e.get("c"), str)]
    return [pair_key(resource_type, param, reference, code) for param, reference in references for code in codes]


def resource_keys(resource_type: str, entries: list[dict[str, Any]]) -> list[str]:
    """Every key of a resource's entries and of its (patient, status) pairs, each once."""
    single = (key for entry in entries for key in entry_keys(resource_type, entry))
    return list(dict.fromkeys([*single, *_pair_keys(resource_type, entries)]))


def text_condition(prefix: str, condition: Any) -> Any | None:
    """`condition` (a value, `$eq` or `$in`) on a text entry key as the condition on its search key."""
    if isinstance(condition, str):
        return prefix + condition[:TEXT_LIMIT]
    if isinstance(condition, dict) and set(condition) == {"$eq"} and isinstance(condition["$eq"], str):
        return prefix + condition["$eq"][:TEXT_LIMIT]
    if isinstance(condition, dict) and set(condition) == {"$in"}:
        values = condition["$in"]
        if all(isinstance(v, str) for v in values):
            return {"$in": [prefix + v[:TEXT_LIMIT] for v in values]}
    return None


def prefix_condition(prefix: str, start: str) -> dict[str, Any]:
    """Keys whose (cut) value starts with `start`."""
    low = prefix + start[:TEXT_LIMIT]
    return {"$gte": low, "$lt": _successor(low)}


def range_condition(prefix: str, entry_key: str, condition: Any) -> dict[str, Any] | None:
    """A range on a date or number entry key (`lo`, `hi`, `n`, `cn`) as a range on its search key."""
    if not isinstance(condition, dict) or not condition or not set(condition) <= {"$gt", "$gte", "$lt", "$lte"}:
        return None
    bounds: dict[str, str] = {}
    for operator, operand in condition.items():
        encoded = _bound(entry_key, operator, operand)
        if encoded is None:
            return None
        if entry_key in ("n", "cn"):
            operator = _INCLUSIVE.get(operator, operator)
        bounds[operator] = prefix + encoded
    if "$gt" not in bounds and "$gte" not in bounds:
        bounds["$gte"] = prefix
    if "$lt" not in bounds and "$lte" not in bounds:
        bounds["$lt"] = _successor(prefix)
    return bounds


def _bound(entry_key: str, operator: str, operand: Any) -> str | None:
    if entry_key in ("lo", "hi"):
        if not isinstance(operand, datetime):
            return None
        # Stored instants are whole milliseconds: x >= S iff x >= ceil(S), x > S iff x > floor(S), and so on.
        up = operator in ("$gte", "$lt") and operand.microsecond % 1000 != 0
        if up and operand > _LAST_MILLISECOND:  # no millisecond follows: a key above every instant's
            return instant_key(operand) + "0"
        return instant_key(operand + _MILLISECOND if up else operand)
    if isinstance(operand, bool) or not isinstance(operand, int | Decimal):
        return None
    return number_key(float(operand))


def range_kind(entry_key: str) -> str | None:
    """The key kind of a ranged entry key, None for the others."""
    return _RANGE_KINDS.get(entry_key)


def _successor(text: str) -> str:
    """The smallest string above every string that starts with `text`."""
    return text[:-1] + chr(ord(text[-1]) + 1)
