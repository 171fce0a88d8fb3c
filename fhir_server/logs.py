"""Structured logging: one JSON object per line, with the request id of the request being served.

Log lines carry ids, codes and sizes, never patient data. Two guards make that hold even for a
careless call: an exception is rendered as its type and stack only, never its message (driver
errors embed the document they refused, validation errors the value they judged), and every
field and the whole line are cut to a bound, so one request cannot write megabytes of log.
"""

from __future__ import annotations

import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

MAX_FIELD_CHARS = 1000
"""A field's text beyond this is cut (and says how long it was)."""
MAX_LINE_CHARS = 16_000
"""A line beyond this keeps its fixed keys and drops the rest; a stack trace fits under it."""
_MAX_FRAMES = 40

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
_FIXED = ("ts", "level", "logger", "msg", "request_id")


def _bounded(value: Any, limit: int = MAX_FIELD_CHARS) -> Any:
    """`value` as a JSON scalar, its text cut to `limit` characters."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | dict):
        text = orjson.dumps(value, default=str).decode()
        if len(text) <= limit:
            return value
    else:
        text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} chars)"


def describe_exception(exc_info: tuple[type[BaseException], BaseException, TracebackType | None]) -> str:
    """The chain of exception types with their stack frames, without the exceptions' messages."""
    parts: list[str] = []
    exc: BaseException | None = exc_info[1]
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        frames = traceback.extract_tb(exc.__traceback__)[-_MAX_FRAMES:]
        stack = "".join(f'  File "{f.filename}", line {f.lineno}, in {f.name}\n' for f in frames)
        parts.append(f"{type(exc).__module__}.{type(exc).__qualname__} (message not logged)\n{stack}")
        exc = exc.__cause__ or exc.__context__
    return "caused by:\n".join(reversed(parts))


class JsonFormatter(logging.Formatter):
    """Render a record as JSON; fields passed with `extra=` become keys of their own, each bounded."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _bounded(record.getMessage()),
        }
        request_id = current_request_id.get()
        if request_id:
            line["request_id"] = request_id
        line.update(
            (k, _bounded(v)) for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
        )
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = _bounded(describe_exception(record.exc_info), MAX_LINE_CHARS // 2)
        text = orjson.dumps(line, default=str).decode()
        if len(text) > MAX_LINE_CHARS:
            kept = {k: line[k] for k in _FIXED if k in line}
            kept["truncated"] = len(text)
            text = orjson.dumps(kept).decode()
        return text


def configure_logging(level: str = "info") -> None:
    """Send JSON lines to stderr; quiet uvicorn's own access log (ours carries more)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("pymongo").setLevel(logging.WARNING)
