"""Hostile or careless searches get a clear 4xx instead of keeping the database busy (README "Search limits").

Each request here is one that took the server down or answered 500 before the limits: they must
now answer, with the right status and an OperationOutcome naming the parameter. The default
limits of the session server apply (config.py); the time limit has a dedicated server.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from fhir_server.storage import EmbeddedDatabase
from tests.audit.records import audit_events
from tests.conftest import FHIR_JSON, ServerProcess, new_patient

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LENIENT = {"Prefer": "handling=lenient"}


def _issues(response: httpx.Response) -> list[dict]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return list(body["issue"])


def _refused(response: httpx.Response, code: str, expression: str | None = None) -> None:
    assert response.status_code == 400, response.text
    issue = _issues(response)[0]
    assert issue["code"] == code, issue
    if expression is not None:
        assert issue["expression"] == [expression], issue


def _outcome(bundle: dict) -> list[dict]:
    """The issues of the Bundle's OperationOutcome entry (search.mode = outcome)."""
    entries = [e for e in bundle.get("entry", []) if e["search"]["mode"] == "outcome"]
    return [issue for e in entries for issue in e["resource"]["issue"]]


def _matches(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _create(client: httpx.Client, resource: dict) -> dict:
    response = client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    created: dict = response.json()
    return created


# Unknown parameters


def test_misspelt_parameter_is_refused_naming_it(client: httpx.Client) -> None:
    response = client.get("/Patient", params={"nmae": "Chalmers"})
    _refused(response, "not-supported", "nmae")
    both = client.get("/Patient", params=[("nmae", "Chalmers"), ("brithdate", "2000"), ("gender", "female")])
    assert sorted(issue["expression"][0] for issue in _issues(both)) == ["brithdate", "nmae"]


def test_lenient_handling_ignores_and_says_so(client: httpx.Client) -> None:
    chalmers = _create(client, new_patient("Chalmers-lenient"))
    response = client.get("/Patient", params={"name": "Chalmers-lenient", "nmae": "x"}, headers=LENIENT)
    assert response.status_code == 200
    bundle = response.json()
    assert _matches(bundle) == [chalmers["id"]]
    assert [(i["severity"], i["expression"]) for i in _outcome(bundle)] == [("warning", ["nmae"])]
    assert "nmae" not in bundle["link"][0]["url"]
    strict = client.get("/Patient", params={"nmae": "x"}, headers={"Prefer": "handling=strict"})
    _refused(strict, "not-supported", "nmae")


def test_unknown_parameters_refused_in_every_kind_of_search(client: httpx.Client) -> None:
    patient = _create(client, new_patient())
    _refused(client.post("/Patient/_search", content="nmae=x", headers=FORM), "not-supported", "nmae")
    _refused(client.get(f"/Patient/{patient['id']}/Observation", params={"cdoe": "x"}), "not-supported", "cdoe")
    _refused(client.get("", params={"_type": "Patient", "nmae": "x"}), "not-supported", "nmae")
    compartment = client.get(f"/Patient/{patient['id']}/Observation", params={"cdoe": "x"}, headers=LENIENT)
    assert compartment.status_code == 200
    assert [i["expression"] for i in _outcome(compartment.json())] == [["cdoe"]]
    posted = client.post("/Patient/_search", content=f"_id={patient['id']}&nmae=x", headers={**FORM, **LENIENT})
    assert _matches(posted.json()) == [patient["id"]]
    system = client.get("", params={"_type": "Patient", "_id": patient["id"], "nmae": "x"}, headers=LENIENT)
    assert [i["expression"] for i in _outcome(system.json())] == [["nmae"]]


def test_unsupported_underscore_parameters_and_modifiers_are_refused(client: httpx.Client) -> None:
    for name in ("_text", "_content", "_list", "_filter", "_query", "_contained"):
        _refused(client.get("/Patient", params={name: "x"}), "not-supported", name)
    assert client.get("/Patient", params={"name:sounds-like": "x"}).status_code == 400
    assert client.get("/Patient", params={"name:sounds-like": ""}).status_code == 400  # no value: still refused
    assert client.get("/Patient", params={"_count:exact": "5"}).status_code == 400


# Bounds on the work one search may ask for


def test_five_thousand_values_are_refused(client: httpx.Client) -> None:
    names = ",".join(f"x{i}" for i in range(5000))
    _refused(client.get("/Patient", params={"name": names}), "too-costly", "name")
    _refused(client.post("/Patient/_search", content=f"name={names}", headers=FORM), "too-costly", "name")
    assert client.get("/Patient", params={"name": ",".join(f"x{i}" for i in range(100))}).status_code == 200


def test_too_many_parameters_are_refused(client: httpx.Client) -> None:
    many = [("gender", "female")] * 51
    _refused(client.get("/Patient", params=many), "too-costly")
    assert client.get("/Patient", params=many[:50]).status_code == 200


def test_deep_has_is_refused(client: httpx.Client) -> None:
    def nested(depth: int) -> str:
        return "_has:Patient:link:" * depth + "name"

    _refused(client.get("/Patient", params={nested(50): "x"}), "too-costly", nested(50))
    _refused(client.get("/Patient", params={nested(3): "x"}), "too-costly", nested(3))
    assert client.get("/Patient", params={nested(2): "x"}).status_code == 200


def test_deep_chain_is_refused(client: httpx.Client) -> None:
    def chained(depth: int) -> str:
        return "subject:Patient." + "link:Patient." * (depth - 1) + "name"

    _refused(client.get("/Observation", params={chained(4): "x"}), "too-costly", chained(4))
    assert client.get("/Observation", params={chained(3): "x"}).status_code == 200
    contains = client.get("/Observation", params={"subject:Patient.name:contains": "a"})
    assert contains.status_code in (200, 400)  # answered: found, or too many patients / too long


def test_too_many_includes_are_refused(client: httpx.Client) -> None:
    repeated = [("_include", "Observation:subject")] * 500
    _refused(client.get("/Observation", params=repeated), "too-costly")
    codes = ("based-on", "derived-from", "device", "encounter", "focus", "has-member", "part-of", "patient")
    codes += ("performer", "specimen", "subject")
    distinct = [("_include", f"Observation:{code}") for code in codes]
    _refused(client.get("/Observation", params=distinct), "too-costly", "_include")
    assert client.get("/Observation", params=distinct[:10]).status_code == 200


def test_iterate_stops_after_its_rounds_with_a_warning(client: httpx.Client) -> None:
    chain = [_create(client, new_patient("Linked"))]
    for _ in range(6):  # each patient links to the one before: first <- second <- ... <- seventh
        linked = new_patient("Linked", link=[{"other": {"reference": f"Patient/{chain[-1]['id']}"}, "type": "seealso"}])
        chain.append(_create(client, linked))
    last = chain[-1]["id"]
    bundle = client.get("/Patient", params={"_id": last, "_include:iterate": "Patient:link"}).json()
    included = [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert included == [p["id"] for p in reversed(chain[2:-1])]  # the first round and 3 more, then stopped
    assert [(i["severity"], i["code"]) for i in _outcome(bundle)] == [("warning", "too-costly")]
    short = client.get("/Patient", params={"_id": chain[2]["id"], "_include:iterate": "Patient:link"}).json()
    assert _outcome(short) == []  # reached the end of the links: nothing to warn about


def test_too_many_sort_keys_are_refused(client: httpx.Client) -> None:
    codes = ("name", "family", "given", "birthdate", "gender", "address", "address-city", "phone", "email", "active")
    assert client.get("/Patient", params={"_sort": ",".join(codes)}).status_code == 200
    _refused(client.get("/Patient", params={"_sort": ",".join((*codes, "language"))}), "too-costly", "_sort")


# 500s that are 400s


def test_regex_values_over_the_database_limit_are_refused(client: httpx.Client) -> None:
    long = "a" * 33_000
    _refused(client.post("/Patient/_search", content=f"name:contains={long}", headers=FORM), "too-long", "name")
    _refused(client.post("/Patient/_search", content=f"name={long}", headers=FORM), "too-long", "name")
    _refused(client.post("/Observation/_search", content=f"code:text={long}", headers=FORM), "too-long", "code")
    _refused(client.post("/ValueSet/_search", content=f"url:below=http://x/{long}", headers=FORM), "too-long", "url")
    assert client.post("/Patient/_search", content=f"name:contains={'a' * 1000}", headers=FORM).status_code == 200


def test_counts_and_offsets_with_thousands_of_digits(client: httpx.Client) -> None:
    digits = "9" * 5000
    capped = client.get("/Patient", params={"_count": digits})
    assert capped.status_code == 200
    assert [(i["code"], i["expression"]) for i in _outcome(capped.json())] == [("too-costly", ["_count"])]
    _refused(client.get("/Patient", params={"_sort": "_id", "_offset": digits}), "too-costly", "_offset")
    assert client.get("/Patient", params={"_count": "²"}).status_code == 400  # a digit, but not 0-9
    assert client.get("/Patient", params={"_count": "0" * 5000 + "5"}).status_code == 200


def test_time_zone_offsets_beyond_fourteen_hours_are_refused(client: httpx.Client) -> None:
    for offset in ("+99:00", "-15:00", "+14:01", "+05:60"):
        response = client.get("/Patient", params={"birthdate": f"ge2000-01-01T00:00:00{offset}"})
        _refused(response, "invalid", "birthdate")
    _refused(client.get("/Patient", params={"_lastUpdated": "2000-01-01T00:00:00+99:00"}), "invalid", "_lastUpdated")
    assert client.get("/Patient", params={"birthdate": "ge2000-01-01T00:00:00+14:00"}).status_code == 200
    assert client.get("/Patient", params={"birthdate": "9999"}).status_code == 200
    for value in ("ap0001", "sa9999", "ap9999", "le9999", "eb0001"):  # at the ends of the years datetime holds
        assert client.get("/Patient", params={"birthdate": value}).status_code == 200


# The database time limit


@pytest.fixture(scope="module")
def hurried(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose searches get 1 ms of database time, on 200 patients: too little for a search that
    scans them (or sends several queries)."""
    log = tmp_path_factory.mktemp("hurried") / "server.log"
    args = ["--mongodb-uri", database.uri, "--database", "fhir_search_time"]
    process = ServerProcess(args, log, env={"FHIR_SEARCH_TIME_LIMIT_MS": "1"})
    entries = [{"resource": new_patient(f"Hurried{i}"), "request": {"method": "POST", "url": "Patient"}}
               for i in range(200)]  # fmt: skip
    batch = httpx.post(f"{process.base}/fhir", json={"resourceType": "Bundle", "type": "batch", "entry": entries},
                       headers=FHIR_JSON, timeout=120)  # fmt: skip
    assert batch.status_code == 200, batch.text
    yield f"{process.base}/fhir"
    process.stop()


def test_search_over_the_time_limit_is_refused(hurried: str) -> None:
    with httpx.Client(base_url=hurried, headers=FHIR_JSON, timeout=30) as client:
        scan = {"name:contains": ",".join(f"q{i}" for i in range(20))}
        _refused(client.get("/Patient", params=scan), "too-costly")
        chained = {"subject:Patient.name": "Hurried1", "_revinclude": "Provenance:target", "_total": "accurate"}
        _refused(client.get("/Observation", params=chained), "too-costly")
        _refused(client.get("", params={"_type": "Patient,Practitioner", "_lastUpdated": "ne2000-01-01"}), "too-costly")
        _refused(client.get("/Patient/$everything"), "too-costly")  # every patient's record: searches too
        patient = _create(client, new_patient("Hurried"))
        assert client.get(f"/Patient/{patient['id']}").status_code == 200  # reads are not searches


# A client that goes away

CROWDED = "fhir_search_disconnect"


@pytest.fixture(scope="module")
def crowded(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server on a database of 1,000 patients: 100 `:contains` values keep it busy for seconds."""
    log = tmp_path_factory.mktemp("crowded") / "server.log"
    process = ServerProcess(["--mongodb-uri", database.uri, "--database", CROWDED], log)
    with httpx.Client(base_url=f"{process.base}/fhir", headers=FHIR_JSON, timeout=120) as client:
        for start in range(0, 1000, 100):
            entries = [{"resource": new_patient(f"Crowd{i}"), "request": {"method": "POST", "url": "Patient"}}
                       for i in range(start, start + 100)]  # fmt: skip
            batch = client.post("", json={"resourceType": "Bundle", "type": "batch", "entry": entries})
            assert batch.status_code == 200, batch.text
    yield process.base
    process.stop()


def test_search_is_cancelled_when_the_client_goes_away(crowded: str, database: EmbeddedDatabase) -> None:
    request_id = f"gone-{uuid.uuid4().hex}"
    query = urlencode({"name:contains": ",".join(f"zz{i}" for i in range(100)), "_total": "none"})
    address = urlsplit(crowded)
    with socket.create_connection((address.hostname, address.port)) as sock:
        head = f"GET /fhir/Patient?{query} HTTP/1.1\r\nHost: {address.netloc}\r\nX-Request-Id: {request_id}\r\n"
        sock.sendall(f"{head}\r\n".encode())
        time.sleep(1)  # the search is under way; then the client leaves
    events = audit_events(database.uri, CROWDED, {"event.entity.what.identifier.value": request_id})
    assert [event.get("outcomeDesc") for event in events] == ["HTTP 499"]  # ended at once, not answered later
