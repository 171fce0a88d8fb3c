"""Vendored HL7 v2 samples (tests/fixtures/hl7v2_mapping), split into messages as the MLLP pipeline hands them over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hl7v2_mapping"
BATCH_SEGMENTS = ("FHS", "BHS", "BTS", "FTS")


def messages(name: str) -> list[str]:
    """The messages of a sample file: BOM removed, LF/CRLF → CR, batch envelopes dropped, split on MSH."""
    text = (FIXTURES / name).read_bytes().decode("utf-8").lstrip("\ufeff")
    out: list[list[str]] = []
    for segment in text.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        if not segment.strip() or segment[:3] in BATCH_SEGMENTS:
            continue
        if segment.startswith("MSH") or not out:
            out.append([])
        out[-1].append(segment)
    return ["\r".join(segments) for segments in out]


def message(name: str) -> str:
    """The only message of a sample file."""
    found = messages(name)
    assert len(found) == 1, name
    return found[0]


def resources(bundle: dict[str, Any] | None, resource_type: str) -> list[dict[str, Any]]:
    """The resources of one type in a transaction Bundle."""
    assert bundle is not None
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def entries(bundle: dict[str, Any] | None, resource_type: str) -> list[dict[str, Any]]:
    """The entries of one type in a transaction Bundle."""
    assert bundle is not None
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]
