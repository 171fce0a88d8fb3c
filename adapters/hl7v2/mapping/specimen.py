"""SPM → Specimen (IG segment map SPM[Specimen]). https://build.fhir.org/ig/HL7/v2-to-fhir/ConceptMap-segment-spm-to-specimen.html"""

from __future__ import annotations

from typing import Any

from .bundle import Transaction, ref
from .datatypes import cwe, datetime_of, ei
from .model import Context
from .segments import Segment

SPECIMEN_SYSTEM = "urn:hl7v2:specimen"


def specimen_identifier(spm: Segment, fallback: str) -> dict[str, Any]:
    """SPM-2 (placer, else filler assigned identifier), else `<order key>-<SPM-1>` under urn:hl7v2:specimen."""
    eip = spm.first(2)
    if eip is not None:
        for i in (1, 2):
            if ident := ei(eip.sub(i)):
                ident.setdefault("system", SPECIMEN_SYSTEM)
                return ident
    return {"system": SPECIMEN_SYSTEM, "value": f"{fallback}-{spm.c(1) or spm.set_id}"}


def build_specimen(spm: Segment, patient_url: str, fallback: str, ctx: Context) -> dict[str, Any]:
    """The Specimen: identifier SPM-2, type SPM-4, collection SPM-17 (start^end), received SPM-18."""
    specimen: dict[str, Any] = {
        "resourceType": "Specimen",
        "identifier": [specimen_identifier(spm, fallback)],
        "subject": ref(patient_url),
    }
    if kind := cwe(spm.first(4), ctx.options.translate):
        specimen["type"] = kind
    collection: dict[str, Any] = {}
    period = spm.first(17)
    if period is not None:
        start = datetime_of(period.c(1), ctx, spm.loc(17))
        end = datetime_of(period.c(2), ctx, spm.loc(17))
        if start and end:
            collection["collectedPeriod"] = {"start": start, "end": end}
        elif start or end:
            collection["collectedDateTime"] = start or end
    if site := cwe(spm.first(8)):
        collection["bodySite"] = site
    if collection:
        specimen["collection"] = collection
    received = datetime_of(spm.c(18), ctx, spm.loc(18))
    if received and "T" in received:
        specimen["receivedTime"] = received
    if reason := cwe(spm.first(21)):
        specimen["condition"] = [reason]
    return specimen


def add_specimens(spms: list[Segment], patient_url: str, fallback: str, ctx: Context, tx: Transaction) -> list[str]:
    """Updates (at ids derived from their keys) for the order's specimens; their fullUrls."""
    urls = []
    for spm in spms:
        specimen = build_specimen(spm, patient_url, fallback, ctx)
        urls.append(tx.own(specimen, specimen["identifier"][0]))
    return list(dict.fromkeys(urls))
