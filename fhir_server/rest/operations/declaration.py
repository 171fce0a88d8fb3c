"""What one `$operation` is: a declaration the routes, the CapabilityStatement and its
OperationDefinition are all generated from (routes.py, definition.py, rest/metadata.py).

Adding an operation is one declaration plus its handler, listed in catalog.py. For example
`Appointment/$find` (a type-level query that changes nothing, so GET is allowed too):

    async def find_appointments(call: OperationCall) -> Response:
        query = await operation_query(call.request)  # URL parameters and a POSTed Parameters
        ...  # engine call, then a FhirResponse

    FIND = Operation(
        code="find",
        id="Appointment-find",
        title="Find appointment slots",
        description="Free slots matching the request.",
        levels=(TYPE,),
        resource_types=("Appointment",),
        affects_state=False,
        parameters=(
            Parameter("start", "in", 0, "1", "dateTime", "Earliest start."),
            Parameter("return", "out", 1, "1", "Bundle", "A searchset Bundle of Slots."),
        ),
        handler=find_appointments,
    )

and `FIND` added to `catalog.OPERATIONS`. A standard operation gives its official canonical
`url` (and the official id); the server's own ones leave `url` None and are defined at
`[base]/OperationDefinition/{id}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.responses import Response

from ...auth.policy import AccessPolicy

SYSTEM, TYPE, INSTANCE = "system", "type", "instance"
ANY_TYPE = "Resource"
"""In `resource_types`: the operation applies to every resource type."""


@dataclass(frozen=True)
class Parameter:
    """One OperationDefinition.parameter (no binding): a value of `type`, or (type None) of `parts`.

    `levels`: where it is taken, when not at every level of its operation (R4 cannot say so but in
    `documentation`).
    """

    name: str
    use: str  # in | out
    min: int
    max: str  # "1", "*" ...
    type: str | None  # a FHIR type code: string, date, Reference, Bundle ...
    documentation: str
    levels: tuple[str, ...] | None = None
    parts: tuple[Parameter, ...] = ()


@dataclass(frozen=True)
class OperationCall:
    """One invocation: the request, the caller and where it was invoked (None above that level)."""

    request: Request
    policy: AccessPolicy
    resource_type: str | None
    resource_id: str | None


Handler = Callable[[OperationCall], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """A declared `$operation`. `affects_state` False allows GET besides POST (R4 operations.html)."""

    code: str
    id: str
    title: str
    description: str
    levels: tuple[str, ...]
    resource_types: tuple[str, ...]
    affects_state: bool
    parameters: tuple[Parameter, ...]
    handler: Handler
    url: str | None = None

    def canonical(self, base: str) -> str:
        """The OperationDefinition's canonical URL: the official one, else this server's."""
        return self.url or f"{base}/OperationDefinition/{self.id}"

    def applies_to(self, level: str, resource_type: str | None) -> bool:
        if level not in self.levels:
            return False
        return level == SYSTEM or ANY_TYPE in self.resource_types or resource_type in self.resource_types

    @property
    def methods(self) -> tuple[str, ...]:
        return ("POST",) if self.affects_state else ("GET", "POST")
