"""The reports shipped with the server: `shipped/<name>.json` with `shipped/<name>.sql` (model.py)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from .model import Report, parse_report

SHIPPED_DIR = Path(__file__).with_name("shipped")


@cache
def shipped_reports() -> dict[str, Report]:
    """The shipped reports by name, read once."""
    reports: dict[str, Report] = {}
    for path in sorted(SHIPPED_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        report = parse_report(data, path.with_suffix(".sql").read_text(encoding="utf-8"))
        reports[report.name] = report
    return reports
