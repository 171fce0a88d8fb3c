"""A progress bar on stderr for the data commands, with no dependency.

On a terminal it redraws one line (bar, percentage, items, rate, ETA) at most ten times a second;
otherwise (a log file, a pipe) it prints a plain line every few seconds. The fraction done is
given in bytes (read of the total) or items, whichever the command knows; it only goes forward
(pieces finish out of order, each reporting where it was read, so a later report may name an
earlier offset).
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from .i18n import _


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """Counts `items` (resources, versions) and `done` out of `total` (bytes or items)."""

    def __init__(
        self,
        unit: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        plain_interval: float = 5.0,
    ) -> None:
        self.unit = unit
        self.total = total
        self.items = 0
        self.done = 0
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty() if tty is None else tty
        self._interval = 0.1 if self._tty else plain_interval
        self._started = time.monotonic()
        self._drawn = 0.0 if self._tty else self._started
        self._visible = False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def rate(self) -> float:
        return self.items / self.elapsed if self.elapsed > 0 else 0.0

    def advance(self, items: int = 0, *, done: int | None = None) -> None:
        """Add `items`; raise `done` (absolute) to the given value, never lower it; redraw if it is time to."""
        self.items += items
        if done is not None:
            self.done = max(self.done, done)
        now = time.monotonic()
        if now - self._drawn >= self._interval:
            self._drawn = now
            self._draw()

    def restart(self, total: int | None) -> None:
        """Count from zero again, towards `total` (a command that starts a pass over)."""
        self.total, self.items, self.done = total, 0, 0
        self._started = time.monotonic()

    def note(self, message: str, *, stream: TextIO | None = None) -> None:
        """Print a line (a failure, say) above the bar: on the bar's stream, or on `stream` (stdout, say)."""
        self._clear()
        print(message, file=stream or self._stream, flush=True)
        if self._tty:
            self._draw()

    def finish(self) -> None:
        """Remove the bar; the command prints its summary next."""
        self._clear()

    def _fraction(self) -> float | None:
        if not self.total:
            return None
        return min(self.done / self.total, 1.0)

    def _status(self) -> str:
        parts = [f"{self.items:,} {self.unit}", _("{rate:,.0f}/s").format(rate=self.rate())]
        fraction = self._fraction()
        if fraction is not None and fraction > 0:
            remaining = self.elapsed * (1 - fraction) / fraction
            parts.append(_("ETA {time}").format(time=_duration(remaining)))
        parts.append(_duration(self.elapsed))
        return "  ".join(parts)

    def _draw(self) -> None:
        fraction = self._fraction()
        status = self._status()
        if not self._tty:
            percent = f"{fraction:4.0%}  " if fraction is not None else ""
            print(f"{percent}{status}", file=self._stream, flush=True)
            return
        width = shutil.get_terminal_size((80, 20)).columns
        if fraction is not None:
            bar_width = max(10, min(40, width - len(status) - 10))
            filled = int(bar_width * fraction)
            line = f"[{'#' * filled}{'-' * (bar_width - filled)}] {fraction:4.0%}  {status}"
        else:
            line = status
        self._stream.write("\r" + line[: width - 1] + "\x1b[K")
        self._stream.flush()
        self._visible = True

    def _clear(self) -> None:
        if self._tty and self._visible:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._visible = False
