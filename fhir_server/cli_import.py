"""`fhir-server import`: load files, one line per finished file, and a clean stop on Ctrl-C or SIGTERM.

The first signal stops reading and lets the pieces in flight commit; a second abandons them (their
transactions roll back). Either way nothing is half written, and the command prints what it did
and the command that resumes it: the same command, since what is stored is recorded and skipped
(engine/importing.py). It then exits 128 + the signal number (130 for Ctrl-C), and the embedded
database, which runs in a session of its own so the terminal's Ctrl-C does not reach it, is
stopped last by the caller.
"""

from __future__ import annotations

import asyncio
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .auth.policy import AccessPolicy
from .cli_database import connected_database
from .config import Settings
from .engine.importing import Failure, FileOutcome, Importer, ImportReport
from .i18n import _, _n, counts
from .progress import Progress

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _file_line(outcome: FileOutcome) -> str:
    """The line printed once a file's writes are all committed (or it was imported before)."""
    if outcome.whole:
        return _("{path}: already imported; skipped.").format(path=outcome.path)
    parts = [
        _n("{path}: {count:,} resource imported", "{path}: {count:,} resources imported", outcome.resources).format(
            path=outcome.path, count=outcome.resources
        )
    ]
    if outcome.skipped:
        parts.append(
            _n(
                "{count:,} part skipped as already imported",
                "{count:,} parts skipped as already imported",
                outcome.skipped,
            ).format(count=outcome.skipped)
        )
    if outcome.failures:
        parts.append(_n("{count:,} failed", "{count:,} failed", outcome.failures).format(count=outcome.failures))
    return "; ".join(parts) + "."


def _summary(report: ImportReport, seconds: float) -> str:
    line = _("Imported {resources} from {files} in {seconds:.1f} s ({rate:,.0f} resources/s); {failures}.").format(
        resources=counts.resources(report.resources),
        files=counts.files(report.files),
        seconds=seconds,
        rate=report.resources / seconds if seconds else 0,
        failures=counts.failures(len(report.failures)),
    )
    if report.skipped_files or report.skipped_pieces:
        line += " " + _("Skipped as already imported: {files}, {pieces}.").format(
            files=counts.files(report.skipped_files), pieces=counts.file_parts(report.skipped_pieces)
        )
    return line


def _stopped(report: ImportReport, command_line: Sequence[str]) -> str:
    return _(
        "Import stopped: {resources:,} resources imported, {finished} of {files} files finished, nothing half "
        "written. To resume, run: {command}"
    ).format(
        resources=report.resources,
        finished=len(report.finished),
        files=len(report.finished) + len(report.unfinished),
        command=shlex.join(["fhir-server", *command_line]),
    )


async def run_import(settings: Settings, paths: Sequence[Path], jobs: int, command_line: Sequence[str]) -> int:
    """Import `paths`; 0, 1 when something failed, 128 + signal number when stopped by a signal."""
    progress = Progress(_("resources"))
    received: list[int] = []

    def failed(failure: Failure) -> None:
        progress.note(_("failed: {failure}").format(failure=failure))

    def finished(outcome: FileOutcome) -> None:
        progress.note(_file_line(outcome), stream=sys.stdout)

    started = time.monotonic()
    async with connected_database(settings) as database:
        importer = Importer(
            database.resources,
            database.imports,
            AccessPolicy.system("cli", historical=True),
            jobs=jobs,
            progress=progress,
            on_failure=failed,
            on_file=finished,
        )

        def interrupted(signum: int) -> None:
            received.append(signum)
            if len(received) == 1:
                progress.note(_("Stopping: letting the writes in flight finish (press Ctrl-C again to abandon them)."))
                importer.stop()
            else:
                importer.abandon()

        loop = asyncio.get_running_loop()
        before = {signum: signal.getsignal(signum) for signum in _SIGNALS}
        for signum in _SIGNALS:
            loop.add_signal_handler(signum, interrupted, signum)
        try:
            report = await importer.run(paths)
        finally:
            for signum in _SIGNALS:
                loop.remove_signal_handler(signum)
                signal.signal(signum, before[signum])
    progress.finish()
    if received:
        print(_stopped(report, command_line), flush=True)
        return 128 + received[0]
    print(_summary(report, time.monotonic() - started), flush=True)
    return 1 if report.failures else 0
