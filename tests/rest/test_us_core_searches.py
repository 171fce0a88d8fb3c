"""US Core 6.1 SHALL searches over real Synthea data, with result sets computed independently.

Three Synthea patient bundles (`tests/fixtures/synthea-sample.json.gz`, vendored from the
Synthea sample population: Apache-2.0) are loaded once per module with PUT (create-on-update),
after turning their `urn:uuid:` references into `Type/id`. Each search the US Core server
CapabilityStatement marks SHALL (single parameters and combinations), and the US Core
`_include` / `_revinclude`, is then run over HTTP and compared, as a set of ids, with what the
raw resources say it must return (search.html rules: tokens by system|code, strings by
case- and accent-insensitive prefix of any name part, dates as ranges compared by prefix).

These bundles predate Synthea's Provenance resources, so the module adds one Provenance per
bundle shaped like later Synthea's (targeting every resource of the bundle) to give the SHALL
`_revinclude=Provenance:target` something to find.

Other tests share the database, so searches are scoped to these patients where the parameter
allows; name, identifier and address searches compare only results among the loaded ids and
check that every expected id is present.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.conftest import FHIR_JSON

Resource = dict[str, Any]
Range = tuple[datetime, datetime]

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "synthea-sample.json.gz"

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
US_CORE_CONDITION_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
CAREPLAN_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
DOCREF_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
LOINC = "http://loinc.org"

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
PAGE = "1000"


# --- the data: bundles as the server should hold them -------------------------------------------------------------


def _read_bundles() -> list[Resource]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as handle:
        bundles: list[Resource] = json.load(handle)
    return bundles


def _identifier_key(resource_type: str, system: str | None, value: str | None) -> tuple[str, str, str]:
    return resource_type, system or "", value or ""


def _localize(bundle: Resource) -> list[Resource]:
    """The bundle's resources with `urn:uuid:X` (and `Type?identifier=s|v`) references made `Type/X`."""
    local: dict[str, str] = {}
    by_identifier: dict[tuple[str, str, str], str] = {}
    resources: list[Resource] = []
    for entry in bundle["entry"]:
        resource = json.loads(json.dumps(entry["resource"]))
        full_url: str = entry.get("fullUrl", "")
        if full_url.startswith("urn:uuid:"):
            resource["id"] = full_url.removeprefix("urn:uuid:")
        reference = f"{resource['resourceType']}/{resource['id']}"
        local[full_url] = reference
        for identifier in resource.get("identifier") or []:
            key = _identifier_key(resource["resourceType"], identifier.get("system"), identifier.get("value"))
            by_identifier[key] = reference
        resources.append(resource)

    def resolve(reference: str) -> str:
        if reference in local:
            return local[reference]
        resource_type, question, query = reference.partition("?")
        if question:
            for name, value in parse_qsl(query):
                if name == "identifier":
                    system, bar, code = value.rpartition("|")
                    found = by_identifier.get(_identifier_key(resource_type, system if bar else None, code))
                    if found:
                        return found
            raise AssertionError(f"conditional reference {reference!r} does not resolve within its bundle")
        assert not reference.startswith("urn:uuid:"), f"{reference!r} names no entry of its bundle"
        return reference

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: resolve(value) if key == "reference" and isinstance(value, str) else rewrite(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    return [rewrite(resource) for resource in resources]


def _provenance(resources: list[Resource]) -> Resource:
    """One Provenance for a patient's bundle, as later Synthea versions write it."""
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    organization = next(r for r in resources if r["resourceType"] == "Organization")
    role = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
    return {
        "resourceType": "Provenance",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:test:us-core-provenance:{patient['id']}")),
        "target": [{"reference": f"{r['resourceType']}/{r['id']}"} for r in resources],
        "recorded": "2019-05-31T16:12:43.815+00:00",
        "agent": [
            {
                "type": {"coding": [{"system": role, "code": "author", "display": "Author"}], "text": "Author"},
                "who": {"reference": f"Organization/{organization['id']}"},
                "onBehalfOf": {"reference": f"Organization/{organization['id']}"},
            }
        ],
    }


@dataclass
class Dataset:
    """All resources to load, by type and id, and the Patients among them."""

    by_type: dict[str, dict[str, Resource]] = field(default_factory=dict)
    patients: list[Resource] = field(default_factory=list)

    def add(self, resource: Resource) -> None:
        self.by_type.setdefault(resource["resourceType"], {})[resource["id"]] = resource

    def of_type(self, resource_type: str) -> list[Resource]:
        return list(self.by_type.get(resource_type, {}).values())

    def all(self) -> Iterator[Resource]:
        for resources in self.by_type.values():
            yield from resources.values()


def _dataset() -> Dataset:
    data = Dataset()
    for bundle in _read_bundles():
        resources = _localize(bundle)
        for resource in [*resources, _provenance(resources)]:
            data.add(resource)
        data.patients += [r for r in resources if r["resourceType"] == "Patient"]
    return data


DATA = _dataset()


# --- FHIR matching rules, written from search.html --------------------------------------------------------------


def _normalize(text: str) -> str:
    """Case- and accent-insensitive form (string search ignores both)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _strings(value: Any, parts: Iterable[str]) -> list[str]:
    out: list[str] = []
    for part in parts:
        item = value.get(part)
        out += [x for x in item if isinstance(x, str)] if isinstance(item, list) else [item] if item else []
    return out


def name_parts(names: list[Resource]) -> list[str]:
    return [text for name in names for text in _strings(name, ("family", "given", "prefix", "suffix", "text"))]


def address_parts(addresses: list[Resource]) -> list[str]:
    keys = ("line", "city", "district", "state", "postalCode", "country", "text")
    return [text for address in addresses for text in _strings(address, keys)]


def starts_with(texts: Iterable[str], prefix: str) -> bool:
    return any(_normalize(text).startswith(_normalize(prefix)) for text in texts)


def codings(concepts: Any) -> set[tuple[str | None, str | None]]:
    """(system, code) of every coding of a CodeableConcept or a list of them."""
    items = concepts if isinstance(concepts, list) else [concepts] if concepts else []
    return {(c.get("system"), c.get("code")) for concept in items for c in concept.get("coding") or []}


def has_token(concepts: Any, token: str) -> bool:
    system, bar, code = token.rpartition("|")
    return any(code == c and (not bar or system == s) for s, c in codings(concepts))


_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<time>\d{2}:\d{2}:\d{2})(?P<f>\.\d+)?(?P<tz>Z|[+-]\d{2}:\d{2}))?)?)?"
)


def date_range(text: str) -> Range:
    """The range of instants a date, dateTime or instant stands for, at its precision (dates in UTC)."""
    match = _DATE.fullmatch(text)
    assert match, text
    year = int(match["y"])
    if match["time"]:
        zone = UTC if match["tz"] == "Z" else datetime.strptime(match["tz"], "%z").tzinfo
        assert isinstance(zone, timezone)
        start = datetime.fromisoformat(f"{text[:10]}T{match['time']}").replace(tzinfo=zone)
        width = timedelta(seconds=10 ** -len(match["f"][1:])) if match["f"] else timedelta(seconds=1)
        start += timedelta(seconds=float(match["f"] or 0))
        return start.astimezone(UTC), (start + width).astimezone(UTC)
    if match["d"]:
        start = datetime(year, int(match["m"]), int(match["d"]), tzinfo=UTC)
        return start, start + timedelta(days=1)
    if match["m"]:
        month = int(match["m"])
        start = datetime(year, month, 1, tzinfo=UTC)
        return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def period_range(period: Resource) -> Range:
    """A Period's extent; a missing start or end is open."""
    low = date_range(period["start"])[0] if period.get("start") else EARLIEST
    high = date_range(period["end"])[1] if period.get("end") else LATEST
    return low, high


def choice_range(resource: Resource, element: str) -> Range | None:
    """The range of a date choice element (`effective[x]`, `performed[x]`) or of a plain Period."""
    if isinstance(resource.get(element), dict):
        return period_range(resource[element])
    if f"{element}Period" in resource:
        return period_range(resource[f"{element}Period"])
    for suffix in ("DateTime", "Instant"):
        if f"{element}{suffix}" in resource:
            return date_range(resource[f"{element}{suffix}"])
    if isinstance(resource.get(element), str):
        return date_range(resource[element])
    return None


def date_matches(value: str, target: Range | None) -> bool:
    """search.html#prefix: how the search range [s, e) relates to the target range [low, high)."""
    if target is None:
        return False
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    s, e = date_range(text)
    low, high = target
    contained = low >= s and high <= e  # the search range fully contains the target
    return {
        "eq": contained,
        "ne": not contained,
        "gt": high > e,  # the range above the search value overlaps the target
        "lt": low < s,  # the range below the search value overlaps the target
        "ge": high > e or contained,
        "le": low < s or contained,
        "sa": low >= e,
        "eb": high <= s,
    }[prefix]


PATIENT_ELEMENT = {"AllergyIntolerance": "patient", "Immunization": "patient", "Device": "patient"}
DATE_ELEMENT = {
    "Observation": "effective",
    "DiagnosticReport": "effective",
    "Procedure": "performed",
    "Encounter": "period",
    "DocumentReference": "date",
}


def belongs_to(resource: Resource, patient_id: str) -> bool:
    """The `patient` parameter: `subject.where(resolve() is Patient)` or the resource's `patient`."""
    element = PATIENT_ELEMENT.get(resource["resourceType"], "subject")
    reference = (resource.get(element) or {}).get("reference")
    return reference == f"Patient/{patient_id}"


# --- the cases ---------------------------------------------------------------------------------------------------

Predicate = Callable[[Resource], bool]


@dataclass(frozen=True)
class Case:
    """One search: the query, the ids it must return, and the included resources it must carry."""

    name: str
    resource_type: str
    params: tuple[tuple[str, str], ...]
    expected: frozenset[str]
    scoped: bool = True
    """True: the query itself confines results to this data; False: compare only among the loaded ids."""
    included: frozenset[str] | None = None
    """`Type/id` of the `_include`/`_revinclude` results, when the query asks for some."""


def _matching(resource_type: str, *predicates: Predicate) -> frozenset[str]:
    return frozenset(r["id"] for r in DATA.of_type(resource_type) if all(p(r) for p in predicates))


def _of(patient_id: str) -> Predicate:
    return lambda r: belongs_to(r, patient_id)


def _token(element: str, token: str) -> Predicate:
    return lambda r: has_token(r.get(element), token)


def _any_token(element: str, tokens: Iterable[str]) -> Predicate:
    wanted = list(tokens)
    return lambda r: any(has_token(r.get(element), token) for token in wanted)


def _code_in(element: str, values: Iterable[str]) -> Predicate:
    wanted = set(values)
    return lambda r: r.get(element) in wanted


def _name_starts(prefix: str) -> Predicate:
    return lambda r: starts_with(name_parts(r.get("name", [])), prefix)


def _has_identifier(system: str | None, value: str) -> Predicate:
    """`identifier=system|value`, or `identifier=value` (any system) when `system` is None."""
    return lambda r: any(
        i.get("value") == value and (system is None or i.get("system") == system) for i in r.get("identifier", [])
    )


def _born(value: str) -> Predicate:
    return lambda r: date_matches(value, date_range(r["birthDate"]))


def _organization_names(resource: Resource) -> list[str]:
    return [resource.get("name", ""), *resource.get("alias", [])]


def _addresses(resource: Resource) -> list[str]:
    return address_parts(resource.get("address", []))


def _texts_start(texts: Callable[[Resource], list[str]], prefix: str) -> Predicate:
    return lambda r: starts_with(texts(r), prefix)


def _date(value: str) -> Predicate:
    return lambda r: date_matches(value, choice_range(r, DATE_ELEMENT[r["resourceType"]]))


def _family(patient: Resource) -> str:
    official = next((n for n in patient["name"] if n.get("use") == "official"), patient["name"][0])
    family: str = official["family"]
    return family


def _label(patient: Resource) -> str:
    return _normalize(_family(patient))


def _provenance_of(resource_type: str, ids: frozenset[str]) -> frozenset[str]:
    wanted = {f"{resource_type}/{i}" for i in ids}
    return frozenset(
        f"Provenance/{p['id']}"
        for p in DATA.of_type("Provenance")
        if any(t.get("reference") in wanted for t in p.get("target", []))
    )


def _middle_year(resources: Iterable[Resource]) -> int:
    """A year in the middle of the resources' dates, so that both `ge` and `lt` find some."""
    found = [choice_range(r, DATE_ELEMENT[r["resourceType"]]) for r in resources]
    years = sorted(r[0].year for r in found if r and r[0] != EARLIEST)
    return int(statistics.median_low(years)) if years else 2000


def _patient_cases() -> Iterator[Case]:
    patients = DATA.patients
    ids = [p["id"] for p in patients]
    for patient in patients:
        label, pid = _label(patient), patient["id"]
        yield Case(f"_id-{label}", "Patient", (("_id", pid),), frozenset({pid}))
        for identifier in patient.get("identifier", []):
            token = f"{identifier['system']}|{identifier['value']}"
            system, value = identifier["system"], identifier["value"]
            expected = _matching("Patient", _has_identifier(system, value))
            kind = system.rstrip("/").rpartition("/")[2]
            yield Case(f"identifier-{label}-{kind}", "Patient", (("identifier", token),), expected, scoped=False)
        for name in patient["name"]:
            family = name["family"]
            for prefix in (family[:4], family.upper(), _normalize(family), name["given"][0][:3].lower()):
                expected = _matching("Patient", _name_starts(prefix))
                yield Case(f"name-{label}-{prefix}", "Patient", (("name", prefix),), expected, scoped=False)
        family = _family(patient)[:5]
        by_name = _name_starts(family)
        birth = patient["birthDate"]
        for value in (birth, f"ge{birth[:4]}", f"lt{birth[:4]}", "1900-01-01"):
            expected = _matching("Patient", by_name, _born(value))
            yield Case(
                f"birthdate+name-{label}-{value}",
                "Patient",
                (("birthdate", value), ("name", family)),
                expected,
                scoped=False,
            )
        for gender in ("female", "male"):
            expected = _matching("Patient", by_name, _code_in("gender", [gender]))
            yield Case(
                f"gender+name-{label}-{gender}", "Patient", (("gender", gender), ("name", family)), expected, False
            )
    yield Case("_id-several", "Patient", (("_id", ",".join(ids)),), frozenset(ids))
    yield Case(
        "_id-revinclude-Provenance",
        "Patient",
        (("_id", ",".join(ids)), ("_revinclude", "Provenance:target")),
        frozenset(ids),
        included=_provenance_of("Patient", frozenset(ids)),
    )
    ssn = next(i for i in patients[0]["identifier"] if i["system"].endswith("us-ssn"))["value"]
    expected = _matching("Patient", _has_identifier(None, ssn))
    yield Case("identifier-value-only", "Patient", (("identifier", ssn),), expected, scoped=False)


def _observation_cases() -> Iterator[Case]:
    categories = sorted({c for r in DATA.of_type("Observation") for s, c in codings(r.get("category")) if c})
    for patient in DATA.patients:
        label, pid = _label(patient), patient["id"]
        mine = [r for r in DATA.of_type("Observation") if belongs_to(r, pid)]
        for category in [*categories, "social-history"]:
            token = f"{OBSERVATION_CATEGORY}|{category}"
            yield Case(
                f"patient+category-{label}-{category}",
                "Observation",
                (("patient", pid), ("category", token)),
                _matching("Observation", _of(pid), _token("category", token)),
            )
        codes = Counter(s_c for r in mine for s_c in codings(r.get("code")))
        (common, _), *_rest = codes.most_common()
        rare = min(codes, key=lambda k: (codes[k], str(k)))
        for system, code in (common, rare):
            token = f"{system}|{code}"
            yield Case(
                f"patient+code-{label}-{code}",
                "Observation",
                (("patient", pid), ("code", token)),
                _matching("Observation", _of(pid), _token("code", token)),
            )
        either = [f"{common[0]}|{common[1]}", f"{rare[0]}|{rare[1]}"]
        yield Case(
            f"patient+code-{label}-two-codes",
            "Observation",
            (("patient", pid), ("code", ",".join(either))),
            _matching("Observation", _of(pid), _any_token("code", either)),
        )
        for category in ("laboratory", "vital-signs"):
            token = f"{OBSERVATION_CATEGORY}|{category}"
            year = _middle_year(r for r in mine if has_token(r.get("category"), token))
            for prefix in ("ge", "lt", "gt", "le"):
                value = f"{prefix}{year}"
                yield Case(
                    f"patient+category+date-{label}-{category}-{value}",
                    "Observation",
                    (("patient", pid), ("category", token), ("date", value)),
                    _matching("Observation", _of(pid), _token("category", token), _date(value)),
                )
            window = (f"ge{year - 5}", f"lt{year + 1}")
            yield Case(
                f"patient+category+date-{label}-{category}-between",
                "Observation",
                (("patient", pid), ("category", token), ("date", window[0]), ("date", window[1])),
                _matching("Observation", _of(pid), _token("category", token), _date(window[0]), _date(window[1])),
            )
        lab = f"{OBSERVATION_CATEGORY}|laboratory"
        labs = sorted(
            (r for r in mine if has_token(r.get("category"), lab)), key=lambda r: str(r.get("effectiveDateTime"))
        )
        instant = datetime.fromisoformat(labs[len(labs) // 2]["effectiveDateTime"])
        eastern = instant.astimezone(timezone(timedelta(hours=-5))).isoformat()
        for value in (*(f"{prefix}{eastern}" for prefix in ("eq", "ge", "gt", "le", "lt")), instant.date().isoformat()):
            yield Case(
                f"patient+category+date-{label}-laboratory-{value}",
                "Observation",
                (("patient", pid), ("category", lab), ("date", value)),
                _matching("Observation", _of(pid), _token("category", lab), _date(value)),
            )
        expected = _matching("Observation", _of(pid), _token("category", lab))
        yield Case(
            f"patient+category-{label}-code-only",
            "Observation",
            (("patient", f"Patient/{pid}"), ("category", "laboratory")),
            _matching("Observation", _of(pid), _token("category", "laboratory")),
        )
        yield Case(
            f"patient+category-{label}-paged",
            "Observation",
            (("patient", pid), ("category", lab), ("_count", "25")),
            expected,
        )
        yield Case(
            f"patient+category-{label}-revinclude-Provenance",
            "Observation",
            (("patient", pid), ("category", lab), ("_revinclude", "Provenance:target"), ("_count", "50")),
            expected,
            included=_provenance_of("Observation", expected),
        )


def _by_patient(resource_type: str) -> Iterator[Case]:
    for patient in DATA.patients:
        label, pid = _label(patient), patient["id"]
        for form in (pid, f"Patient/{pid}"):
            kind = "typed" if "/" in form else "id"
            yield Case(
                f"patient-{label}-{kind}", resource_type, (("patient", form),), _matching(resource_type, _of(pid))
            )


def _dated(resource_type: str, code: str = "date") -> Iterator[Case]:
    for patient in DATA.patients:
        label, pid = _label(patient), patient["id"]
        year = _middle_year(r for r in DATA.of_type(resource_type) if belongs_to(r, pid))
        for prefix in ("ge", "lt", "gt", "le"):
            value = f"{prefix}{year}"
            yield Case(
                f"patient+{code}-{label}-{value}",
                resource_type,
                (("patient", pid), (code, value)),
                _matching(resource_type, _of(pid), _date(value)),
            )


def _condition_cases() -> Iterator[Case]:
    yield from _by_patient("Condition")
    tokens = (
        f"{CONDITION_CATEGORY}|encounter-diagnosis",
        f"{CONDITION_CATEGORY}|problem-list-item",
        f"{US_CORE_CONDITION_CATEGORY}|health-concern",
    )
    for patient in DATA.patients:
        label, pid = _label(patient), patient["id"]
        for token in tokens:
            yield Case(
                f"patient+category-{label}-{token.rpartition('|')[2]}",
                "Condition",
                (("patient", pid), ("category", token)),
                _matching("Condition", _of(pid), _token("category", token)),
            )


def _encounter_cases() -> Iterator[Case]:
    for patient in DATA.patients:
        first = next(r for r in DATA.of_type("Encounter") if belongs_to(r, patient["id"]))
        yield Case(f"_id-{_label(patient)}", "Encounter", (("_id", first["id"]),), frozenset({first["id"]}))
    yield from _by_patient("Encounter")
    yield from _dated("Encounter")


def _medication_request_cases() -> Iterator[Case]:
    for patient in DATA.patients:
        label, pid = _label(patient), patient["id"]
        for intent in ("order", "order,plan", "plan"):
            yield Case(
                f"patient+intent-{label}-{intent}",
                "MedicationRequest",
                (("patient", pid), ("intent", intent)),
                _matching("MedicationRequest", _of(pid), _code_in("intent", intent.split(","))),
            )
            for status in ("active", "stopped", "active,completed,stopped"):
                yield Case(
                    f"patient+intent+status-{label}-{intent}-{status}",
                    "MedicationRequest",
                    (("patient", pid), ("intent", intent), ("status", status)),
                    _matching(
                        "MedicationRequest",
                        _of(pid),
                        _code_in("intent", intent.split(",")),
                        _code_in("status", status.split(",")),
                    ),
                )
        expected = _matching("MedicationRequest", _of(pid), _code_in("intent", ["order"]))
        medications = frozenset(
            (r.get("medicationReference") or {}).get("reference", "")
            for r in DATA.of_type("MedicationRequest")
            if r["id"] in expected and r.get("medicationReference")
        )
        yield Case(
            f"patient+intent-{label}-include-medication",
            "MedicationRequest",
            (("patient", pid), ("intent", "order"), ("_include", "MedicationRequest:medication")),
            expected,
            included=medications,
        )
        yield Case(
            f"patient+intent-{label}-revinclude-Provenance",
            "MedicationRequest",
            (("patient", pid), ("intent", "order"), ("_revinclude", "Provenance:target")),
            expected,
            included=_provenance_of("MedicationRequest", expected),
        )


def _diagnostic_report_cases() -> Iterator[Case]:
    yield from _by_patient("DiagnosticReport")
    lab = f"{V2_0074}|LAB"
    for patient in DATA.patients:
        label, pid = _label(patient), patient["id"]
        mine = [r for r in DATA.of_type("DiagnosticReport") if belongs_to(r, pid)]
        for token in (lab, f"{V2_0074}|RAD", f"{LOINC}|LP29684-5"):
            yield Case(
                f"patient+category-{label}-{token.rpartition('|')[2]}",
                "DiagnosticReport",
                (("patient", pid), ("category", token)),
                _matching("DiagnosticReport", _of(pid), _token("category", token)),
            )
        (system, code), _count = Counter(s_c for r in mine for s_c in codings(r.get("code"))).most_common(1)[0]
        yield Case(
            f"patient+code-{label}-{code}",
            "DiagnosticReport",
            (("patient", pid), ("code", f"{system}|{code}")),
            _matching("DiagnosticReport", _of(pid), _token("code", f"{system}|{code}")),
        )
        year = _middle_year(mine)
        for prefix in ("ge", "lt", "gt", "le"):
            value = f"{prefix}{year}"
            yield Case(
                f"patient+category+date-{label}-{value}",
                "DiagnosticReport",
                (("patient", pid), ("category", lab), ("date", value)),
                _matching("DiagnosticReport", _of(pid), _token("category", lab), _date(value)),
            )


def _care_plan_cases() -> Iterator[Case]:
    categories = sorted({f"{s}|{c}" for r in DATA.of_type("CarePlan") for s, c in codings(r.get("category"))})
    for patient in DATA.patients:
        label, pid = _label(patient), patient["id"]
        for token in [*categories, f"{CAREPLAN_CATEGORY}|assess-plan"]:
            yield Case(
                f"patient+category-{label}-{token.rpartition('|')[2]}",
                "CarePlan",
                (("patient", pid), ("category", token)),
                _matching("CarePlan", _of(pid), _token("category", token)),
            )


def _absent_type_cases() -> Iterator[Case]:
    """US Core types Synthea 2019 does not produce: the searches must be accepted and find nothing of ours."""
    for patient in DATA.patients:
        label, pid = _label(patient), patient["id"]
        yield Case(
            f"CareTeam-patient+status-{label}",
            "CareTeam",
            (("patient", pid), ("status", "active")),
            _matching("CareTeam", _of(pid), _code_in("status", ["active"])),
        )
        yield Case(f"Device-patient-{label}", "Device", (("patient", pid),), _matching("Device", _of(pid)))
        for params in (
            (("patient", pid),),
            (("patient", pid), ("category", f"{DOCREF_CATEGORY}|clinical-note")),
            (("patient", pid), ("type", f"{LOINC}|34117-2")),
            (("patient", pid), ("category", f"{DOCREF_CATEGORY}|clinical-note"), ("date", "ge2000")),
        ):
            name = "+".join(p for p, _v in params)
            yield Case(f"DocumentReference-{name}-{label}", "DocumentReference", params, frozenset())
    yield Case(
        "DocumentReference-_id",
        "DocumentReference",
        (("_id", str(uuid.uuid5(uuid.NAMESPACE_URL, "urn:test:no-such-document"))),),
        frozenset(),
    )


def _directory_cases() -> Iterator[Case]:
    for organization in DATA.of_type("Organization"):
        name, address = organization["name"], organization["address"][0]
        for param, value, parts in (
            ("name", name[:6].lower(), _organization_names),
            ("address", address["city"].title(), _addresses),
            ("address", " ".join(address["line"][0].split()[:2]), _addresses),
        ):
            yield Case(
                f"Organization-{param}-{value}",
                "Organization",
                ((param, value),),
                _matching("Organization", _texts_start(parts, value)),
                scoped=False,
            )
    for practitioner in DATA.of_type("Practitioner"):
        family = practitioner["name"][0]["family"]
        yield Case(
            f"Practitioner-name-{family}",
            "Practitioner",
            (("name", family[:4]),),
            _matching("Practitioner", _name_starts(family[:4])),
            scoped=False,
        )
        identifier = practitioner["identifier"][0]
        token = f"{identifier['system']}|{identifier['value']}"
        yield Case(
            f"Practitioner-identifier-{identifier['value']}",
            "Practitioner",
            (("identifier", token),),
            _matching("Practitioner", _has_identifier(identifier["system"], identifier["value"])),
            scoped=False,
        )


def _prefixed(prefix: str, cases: Iterable[Case]) -> list[Case]:
    return [Case(f"{prefix}-{c.name}", c.resource_type, c.params, c.expected, c.scoped, c.included) for c in cases]


def _unique(cases: Iterable[Case]) -> list[Case]:
    """One case per query (a name prefix may come from two names), under unique names."""
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    out = []
    for case in cases:
        key = (case.resource_type, case.params)
        if key not in seen:
            seen.add(key)
            out.append(case)
    assert len({case.name for case in out}) == len(out), "case names must be unique"
    return out


CASES: list[Case] = _unique(
    [
        *_prefixed("Patient", _patient_cases()),
        *_prefixed("Observation", _observation_cases()),
        *_prefixed("Condition", _condition_cases()),
        *_prefixed("Encounter", _encounter_cases()),
        *_prefixed("MedicationRequest", _medication_request_cases()),
        *_prefixed("DiagnosticReport", _diagnostic_report_cases()),
        *_prefixed("Procedure", _by_patient("Procedure")),
        *_prefixed("Procedure", _dated("Procedure")),
        *_prefixed("AllergyIntolerance", _by_patient("AllergyIntolerance")),
        *_prefixed("Immunization", _by_patient("Immunization")),
        *_prefixed("Goal", _by_patient("Goal")),
        *_prefixed("CarePlan", _care_plan_cases()),
        *_absent_type_cases(),
        *_directory_cases(),
    ]
)


# --- loading and searching ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """What the server accepted: loaded ids by type, and refused `Type/id` with the server's reason."""

    ids: dict[str, frozenset[str]]
    refused: dict[str, str]


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=FHIR_JSON, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def loaded(http: httpx.Client) -> Loaded:
    """PUT every resource (create-on-update), in parallel: references are not checked on write."""

    def put(resource: Resource) -> tuple[str, str | None]:
        reference = f"{resource['resourceType']}/{resource['id']}"
        response = http.put(f"/{reference}", json=resource)
        if response.status_code in (200, 201):
            return reference, None
        return reference, f"{response.status_code}: {response.text[:2000]}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(put, DATA.all()))
    refused = {reference: reason for reference, reason in outcomes if reason is not None}
    ids: dict[str, set[str]] = {}
    for reference, reason in outcomes:
        if reason is None:
            resource_type, _slash, resource_id = reference.partition("/")
            ids.setdefault(resource_type, set()).add(resource_id)
    return Loaded({t: frozenset(i) for t, i in ids.items()}, refused)


@dataclass
class Found:
    matches: list[str] = field(default_factory=list)
    included: set[str] = field(default_factory=set)
    total: int | None = None


def search_all(http: httpx.Client, resource_type: str, params: tuple[tuple[str, str], ...]) -> Found:
    """Every page of a search: the matches' ids (in order, repeats kept) and the included `Type/id`."""
    query = params if any(p == "_count" for p, _v in params) else (*params, ("_count", PAGE))
    response = http.get(f"/{resource_type}", params=query)
    found = Found()
    for _page in range(200):
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset", bundle
        if found.total is None:
            found.total = bundle.get("total")
        for entry in bundle.get("entry", []):
            resource, mode = entry["resource"], entry["search"]["mode"]
            if mode == "match":
                assert resource["resourceType"] == resource_type, entry["fullUrl"]
                found.matches.append(resource["id"])
            else:
                assert mode == "include", entry
                found.included.add(f"{resource['resourceType']}/{resource['id']}")
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
        if url is None:
            return found
        response = http.get(url)
    raise AssertionError("more than 200 pages")


def test_every_synthea_resource_is_accepted(loaded: Loaded) -> None:
    assert loaded.refused == {}
    assert sum(len(ids) for ids in loaded.ids.values()) == sum(1 for _r in DATA.all())


def test_cases_cover_non_empty_results() -> None:
    """Guard against a data change that would leave the searches vacuous."""
    non_empty = Counter(case.resource_type for case in CASES if case.expected)
    for resource_type in (
        "Patient",
        "Observation",
        "Condition",
        "Encounter",
        "MedicationRequest",
        "DiagnosticReport",
        "Procedure",
        "AllergyIntolerance",
        "Immunization",
        "Goal",
        "CarePlan",
        "Organization",
        "Practitioner",
    ):
        assert non_empty[resource_type] > 0, resource_type
    assert any(case.included for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_us_core_search(case: Case, loaded: Loaded, http: httpx.Client) -> None:
    refused = {r.partition("/")[2] for r in loaded.refused if r.startswith(f"{case.resource_type}/")}
    expected = case.expected - refused
    found = search_all(http, case.resource_type, case.params)
    got = set(found.matches)
    assert len(found.matches) == len(got), "a resource was returned twice across pages"
    if case.scoped:
        assert got == expected, f"missing: {sorted(expected - got)}; unexpected: {sorted(got - expected)}"
        assert found.total == len(expected)
    else:
        ours = got & loaded.ids.get(case.resource_type, frozenset())
        assert expected <= got, f"missing: {sorted(expected - got)}"
        assert ours == expected, f"unexpected among the loaded ids: {sorted(ours - expected)}"
    if case.included is not None:
        included = {r for r in case.included if r not in loaded.refused}
        assert found.included == included, f"missing: {included - found.included}; extra: {found.included - included}"
