"""A whole X12 file checked by pyx12 against the 5010 map of its implementation guide.

pyx12 reports through its error handler and its 999 acknowledgement; `validate` returns the
errors as text lines (empty: the file is valid), so callers can show them or fail a test.
"""

from __future__ import annotations

import io
import logging

import pyx12.error_handler
import pyx12.params
import pyx12.x12n_document


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def validate(text: str) -> list[str]:
    """pyx12's errors for `text` ([] when it passes; a file pyx12 cannot even walk is one error)."""
    collect = _Collect()
    logger = logging.getLogger("pyx12")
    logger.addHandler(collect)
    try:
        acknowledgement, report = io.StringIO(), io.StringIO()
        valid = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), acknowledgement, report)
    except Exception as exc:  # pyx12 raises on some malformed composites instead of reporting them
        return [f"pyx12: {exc!r}"]
    finally:
        logger.removeHandler(collect)
    if valid and not collect.lines:
        return []
    return collect.lines or [report.getvalue() or "invalid"]
