"""The parameters of the prescribing operations: unknown ones are refused (400) unless the client asks for
lenient handling, as for searches; general ones (`_format`, `_pretty` ...) are always allowed."""

from __future__ import annotations

from ...rest.operations.declaration import OperationCall
from ...rest.operations.parameters import operation_query
from ...rest.preconditions import lenient_handling
from ...search.request import refuse_unknown


async def operation_parameters(call: OperationCall, operation: str, allowed: set[str]) -> list[tuple[str, str]]:
    """The call's (name, value) parameters. Raises InvalidRequest naming the unknown ones."""
    query = await operation_query(call.request)
    unknown = [name for name, _value in query if name not in allowed and not name.startswith("_")]
    refuse_unknown(unknown, not lenient_handling(call.request), operation)
    return query
