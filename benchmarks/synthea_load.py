"""Synthea transaction Bundles turned into plain resources and loaded through the engine.

Every `urn:uuid:X` fullUrl and reference becomes `Type/<fresh id>`, so each copy of the 40 bundles
is an independent little world. Copies get shuffled patient and practitioner names, scrambled
identifiers and shifted birth dates so that name and identifier searches stay selective. The data has
no CareTeam, Device, DocumentReference or Location, which US Core searches on: one of each of the
first three is made up per patient, and one Location per Organization.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from fhir_server.auth.policy import AccessPolicy
from fhir_server.engine.bundle.transaction import process_transaction
from fhir_server.storage import ResourceStore

SYNTHEA = Path("/work/shared/synthea")
_URN = re.compile(r"urn:uuid:([0-9a-fA-F-]{36})")
_SUBJECT_KEYS = ("subject", "patient")
_LOINC = "http://loinc.org"


@dataclass
class Dataset:
    """The generated resources and, per patient reference, that patient's resources by type."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    by_patient: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    by_type: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, resource: dict[str, Any]) -> None:
        """Record `resource` under its type and under the patient it is about."""
        self.resources.append(resource)
        kind = resource["resourceType"]
        self.by_type.setdefault(kind, []).append(resource)
        patient = f"Patient/{resource['id']}" if kind == "Patient" else subject_of(resource)
        if patient is not None:
            self.by_patient.setdefault(patient, {}).setdefault(kind, []).append(resource)


def subject_of(resource: dict[str, Any]) -> str | None:
    """The `Patient/id` a clinical resource is about, if any."""
    for key in _SUBJECT_KEYS:
        reference = (resource.get(key) or {}).get("reference", "")
        if reference.startswith("Patient/"):
            return str(reference)
    return None


def read_bundles(directory: Path = SYNTHEA) -> list[str]:
    """The bundles' JSON text, in file name order."""
    return [path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.json"))]


def _strip_digits(text: str) -> str:
    return text.rstrip(string.digits) or text


class _Shuffler:
    """Fresh names, identifiers and birth dates for one copy; pools come from the original bundles."""

    def __init__(self, rng: random.Random, families: list[str], givens: list[str]) -> None:
        self.rng, self.families, self.givens = rng, families, givens

    def name(self, pool: list[str]) -> str:
        return f"{self.rng.choice(pool)}{self.rng.randrange(1000)}"

    def scramble(self, value: str) -> str:
        """Same shape, new digits and hex letters: `999-12-3456` -> `999-87-1203`."""
        out = []
        for char in value:
            if char.isdigit():
                out.append(str(self.rng.randrange(10)))
            elif char in "abcdef":
                out.append(self.rng.choice("abcdef"))
            else:
                out.append(char)
        return "".join(out)

    def person(self, resource: dict[str, Any]) -> None:
        """Shuffle a Patient's or Practitioner's names and identifiers in place."""
        for name in resource.get("name", []):
            if "family" in name:
                name["family"] = self.name(self.families)
            if "given" in name:
                name["given"] = [self.name(self.givens) for _ in name["given"]]
            if "prefix" in name or "given" in name:
                name.pop("text", None)
        for identifier in resource.get("identifier", []):
            if "value" in identifier:
                identifier["value"] = self.scramble(identifier["value"])
        if "birthDate" in resource:
            born = date.fromisoformat(resource["birthDate"]) + timedelta(days=self.rng.randrange(-365, 366))
            resource["birthDate"] = born.isoformat()


def _name_pools(bundles: list[str]) -> tuple[list[str], list[str]]:
    families: set[str] = set()
    givens: set[str] = set()
    for text in bundles:
        for entry in json.loads(text)["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] in ("Patient", "Practitioner"):
                for name in resource.get("name", []):
                    families.add(_strip_digits(name.get("family", "Doe")))
                    givens.update(_strip_digits(g) for g in name.get("given", []))
    return sorted(families), sorted(givens)


def _made_up(patient: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """A Device, a CareTeam and a DocumentReference for `patient` (absent from the Synthea data)."""
    reference = {"reference": f"Patient/{patient['id']}"}
    written = f"{rng.randrange(2000, 2024)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    note = base64.b64encode(f"Visit note for {patient['name'][0]['family']}.".encode()).decode()
    return [
        {
            "resourceType": "Device",
            "id": str(uuid.uuid4()),
            "status": "active",
            "type": {"coding": [{"system": "http://snomed.info/sct", "code": "72506001", "display": "Implantable"}]},
            "patient": reference,
        },
        {
            "resourceType": "CareTeam",
            "id": str(uuid.uuid4()),
            "status": rng.choice(("active", "inactive", "proposed")),
            "subject": reference,
            "participant": [{"role": [{"text": "Primary care"}], "member": {"display": "Care team member"}}],
        },
        {
            "resourceType": "DocumentReference",
            "id": str(uuid.uuid4()),
            "status": "current",
            "type": {"coding": [{"system": _LOINC, "code": "34117-2", "display": "History and physical note"}]},
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                            "code": "clinical-note",
                        }
                    ]
                }
            ],
            "subject": reference,
            "date": f"{written}T10:00:00Z",
            "content": [{"attachment": {"contentType": "text/plain", "data": note}}],
        },
    ]


def _location(organization: dict[str, Any]) -> dict[str, Any]:
    location: dict[str, Any] = {
        "resourceType": "Location",
        "id": str(uuid.uuid4()),
        "status": "active",
        "name": f"{organization.get('name', 'Clinic')} main site",
        "managingOrganization": {"reference": f"Organization/{organization['id']}"},
    }
    if organization.get("address"):
        location["address"] = organization["address"][0]
    return location


def _copy(text: str, copy: int, shuffler: _Shuffler) -> Iterator[dict[str, Any]]:
    """One bundle's resources with fresh ids; copy 0 keeps the original names."""
    entries = json.loads(text)["entry"]
    new_ids = {entry["fullUrl"].removeprefix("urn:uuid:"): str(uuid.uuid4()) for entry in entries}
    types = {entry["fullUrl"].removeprefix("urn:uuid:"): entry["resource"]["resourceType"] for entry in entries}

    def local(match: re.Match[str]) -> str:
        old = match[1]
        return f"{types[old]}/{new_ids[old]}" if old in new_ids else match[0]

    for entry in json.loads(_URN.sub(local, text))["entry"]:
        resource = entry["resource"]
        old = resource.get("id")
        resource["id"] = new_ids.get(old, str(uuid.uuid4())) if old else str(uuid.uuid4())
        kind = resource["resourceType"]
        if copy and kind in ("Patient", "Practitioner"):
            shuffler.person(resource)
        if copy and kind == "Organization" and "name" in resource:
            resource["name"] = f"{resource['name']} {copy:03d}"
        yield resource
        if kind == "Patient":
            yield from _made_up(resource, shuffler.rng)
        elif kind == "Organization":
            yield _location(resource)


def generate(target: int, seed: int = 1) -> Dataset:
    """Copies of the Synthea bundles, whole bundles at a time, until there are at least `target` resources."""
    bundles = read_bundles()
    rng = random.Random(seed)
    shuffler = _Shuffler(rng, *_name_pools(bundles))
    dataset = Dataset()
    copy = 0
    while len(dataset.resources) < target:
        for text in bundles:
            for resource in _copy(text, copy, shuffler):
                dataset.add(resource)
            if len(dataset.resources) >= target:
                break
        copy += 1
    return dataset


async def load(store: ResourceStore, resources: list[dict[str, Any]], chunk: int = 250) -> float:
    """Write every resource through the engine as transactions of `chunk` PUTs; returns the seconds it took."""
    start = time.perf_counter()
    for begin in range(0, len(resources), chunk):
        entries = [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in resources[begin : begin + chunk]
        ]
        await process_transaction(store, AccessPolicy.system("benchmark"), entries, None)
    return time.perf_counter() - start


def payload_bytes(resources: list[dict[str, Any]]) -> int:
    """Total JSON size of `resources` (for the report)."""
    return sum(len(orjson.dumps(r)) for r in resources)
