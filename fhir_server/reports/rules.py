"""A report Library is checked where every write passes: only administrators store one, and only one
that would run (valid views, one read-only SELECT of them, declared parameters, a name of its own)."""

from __future__ import annotations

from ..engine.rules.registry import WriteContext, write_rule
from ..errors import InvalidRequest, VersionConflict
from ..i18n import _
from ..views.definition import compile_view
from .checks import checked_sql
from .library import TYPE_CODE, TYPE_SYSTEM, is_report
from .shipped import shipped_reports


@write_rule("report-library-valid", ["Library"], ["create", "update", "patch"])
async def report_library_valid(context: WriteContext) -> None:
    library = context.new
    if library is None or not is_report(library):
        return
    if context.policy is not None:
        context.policy.require_admin()
    from .stored import report_of  # reads through the engine, which imports this module: not at the top

    report = await report_of(context.store, library)
    for position, view in enumerate(report.views.values()):
        try:
            compile_view(dict(view))
        except InvalidRequest as exc:
            raise InvalidRequest(
                _("The view at Library.relatedArtifact[{position}] is not valid: {problem}").format(
                    position=position, problem=exc.issues[0].diagnostics),
                expression=f"Library.relatedArtifact[{position}].document",
            ) from exc  # fmt: skip
    try:
        checked_sql(report)
    except InvalidRequest as exc:
        raise InvalidRequest(exc.issues[0].diagnostics, expression="Library.content") from exc
    if report.name in shipped_reports():
        raise InvalidRequest(_("The name {name} is taken by a report shipped with the server.").format(
            name=report.name), expression="Library.name")  # fmt: skip
    await context.lock(f"report-name/{report.name}")
    same = await context.find("Library", [("name:exact", report.name), ("type", f"{TYPE_SYSTEM}|{TYPE_CODE}")])
    if any(record.id != context.resource_id for record in same):
        raise VersionConflict(_("Another report Library is already named {name}.").format(name=report.name))
