"""A Library that carries a ViewDefinition (carrier.py) must carry a valid one, on every write path.

Checked inside the write like every write rule (REST, Bundles, `$import`, `fhir-server import`), so a
stored view always runs: a broken one is refused with the same 400 OperationOutcome as `$run` gives,
its element named. A Library without a ViewDefinition attachment is not concerned.
"""

from __future__ import annotations

from ..engine.rules.registry import WriteContext, write_rule
from .carrier import VIEW_MEDIA_TYPE, library_view
from .definition import compile_view


@write_rule("viewdefinition-valid", ["Library"], ["create", "update", "patch"])
async def viewdefinition_valid(context: WriteContext) -> None:
    """Refuse a Library whose ViewDefinition is broken."""
    library = context.new
    if library is None:
        return
    contents = library.get("content") or []
    if any(isinstance(c, dict) and c.get("contentType") == VIEW_MEDIA_TYPE for c in contents):
        compile_view(library_view(library))
