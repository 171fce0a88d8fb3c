"""The input parameters of the stock operations, checked: each refusal (400) names its parameter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ...errors import InvalidRequest
from ...i18n import _


def where(name: str) -> str:
    """The FHIRPath of an operation's input parameter `name`."""
    return f"Parameters.parameter.where(name='{name}')"


_GENERAL = frozenset({"_format", "_pretty"})
"""Parameters every interaction takes (R4 http.html#parameters)."""


@dataclass(frozen=True)
class Inputs:
    """An operation's (name, value) pairs (URL and Parameters, see rest/operations/parameters.py)."""

    pairs: Sequence[tuple[str, str]]

    @classmethod
    def checked(cls, pairs: Sequence[tuple[str, str]], declared: Iterable[str]) -> Inputs:
        """The pairs, refusing (400) a parameter the operation does not declare."""
        known = _GENERAL | set(declared)
        for name, _value in pairs:
            if name not in known:
                raise InvalidRequest(
                    _("This operation takes no parameter '{name}'.").format(name=name), expression=where(name)
                )
        return cls(pairs)

    def one(self, name: str) -> str | None:
        values = [value for key, value in self.pairs if key == name]
        if len(values) > 1:
            raise InvalidRequest(_("Parameter '{name}' may be given once.").format(name=name), expression=where(name))
        return values[0].strip() if values and values[0].strip() else None

    def required(self, name: str) -> str:
        value = self.one(name)
        if value is None:
            raise InvalidRequest(_("Parameter '{name}' is required.").format(name=name), expression=where(name))
        return value

    def reference(self, name: str, resource_type: str, *, required: bool = True) -> str | None:
        """A reference to a `resource_type` as `Type/id` (a bare id is taken as one of that type)."""
        value = self.required(name) if required else self.one(name)
        if value is None:
            return None
        kind, slash, resource_id = value.rpartition("/")
        reference = f"{resource_type}/{value}" if not slash else f"{kind.rpartition('/')[2]}/{resource_id}"
        if not reference.startswith(f"{resource_type}/") or not resource_id.strip() and slash:
            raise InvalidRequest(
                _("Parameter '{name}' must reference a {type}.").format(name=name, type=resource_type),
                expression=where(name),
            )
        return reference

    def quantity(self, name: str, *, required: bool = True, signed: bool = False) -> Decimal | None:
        """A decimal quantity above zero (with `signed`, any but zero)."""
        value = self.required(name) if required else self.one(name)
        if value is None:
            return None
        try:
            quantity = Decimal(value)
        except InvalidOperation:
            quantity = Decimal("NaN")
        if not quantity.is_finite() or quantity == 0 or (quantity < 0 and not signed):
            message = _("Parameter '{name}' must be a number other than zero.") if signed else None
            raise InvalidRequest(
                (message or _("Parameter '{name}' must be a number above zero.")).format(name=name),
                expression=where(name),
            )
        return quantity
