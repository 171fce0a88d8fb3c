"""FHIR XML over HTTP against the real server: bodies in, responses out, errors, 406 and 415."""

from __future__ import annotations

import uuid
from xml.etree import ElementTree

import httpx
import pytest

NS = "{http://hl7.org/fhir}"
XML = {"Content-Type": "application/fhir+xml", "Accept": "application/fhir+xml"}
FHIR_XML_TYPE = "application/fhir+xml; charset=utf-8"


def _xml(response: httpx.Response) -> ElementTree.Element:
    assert response.headers["content-type"] == FHIR_XML_TYPE, response.text
    return ElementTree.fromstring(response.content)


def _value(root: ElementTree.Element, path: str) -> str | None:
    found = root.find("/".join(NS + part for part in path.split("/")))
    return None if found is None else found.get("value")


def _patient_xml(family: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Patient xmlns="http://hl7.org/fhir">'
        '<text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">Ann <b>Lee</b></div></text>'
        '<extension url="http://example.org/weight"><valueDecimal value="70.10"/></extension>'
        f'<name><family value="{family}"/><given value="Ann"/><given value="Marie"/></name>'
        '<gender value="female"/><birthDate value="1970-01-01"/>'
        "</Patient>"
    )


def test_create_in_xml_then_read_in_xml_and_json(client: httpx.Client) -> None:
    family = f"Xml{uuid.uuid4().hex[:8]}"
    created = client.post("/Patient", content=_patient_xml(family), headers=XML)
    assert created.status_code == 201, created.text
    root = _xml(created)
    assert root.tag == f"{NS}Patient"
    resource_id = _value(root, "id")
    assert resource_id and _value(root, "meta/versionId") == "1"
    as_json = client.get(f"/Patient/{resource_id}")
    assert as_json.headers["content-type"].startswith("application/fhir+json")
    body = as_json.json()
    assert body["name"] == [{"family": family, "given": ["Ann", "Marie"]}]
    assert body["text"]["div"] == '<div xmlns="http://www.w3.org/1999/xhtml">Ann <b>Lee</b></div>'
    assert b'"valueDecimal":70.10' in as_json.content  # exact, as sent in XML
    as_xml = _xml(client.get(f"/Patient/{resource_id}", headers={"Accept": "application/fhir+xml"}))
    assert [child.tag.removeprefix(NS) for child in as_xml] == [
        "id", "meta", "text", "extension", "name", "gender", "birthDate",
    ]  # fmt: skip
    assert as_xml.find(f"{NS}extension/{NS}valueDecimal").get("value") == "70.10"  # type: ignore[union-attr]
    div = as_xml.find(f"{NS}text/{{http://www.w3.org/1999/xhtml}}div")
    assert div is not None and div.find("{http://www.w3.org/1999/xhtml}b").text == "Lee"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ("_format=xml", None),
        ("_format=application/fhir%2Bxml", None),
        ("_format=application/fhir+xml", None),
        ("_format=text/xml", "application/fhir+json"),
        ("", "application/xml"),
        ("", "text/xml"),
    ],
)
def test_xml_is_served_when_asked_for(
    client: httpx.Client, patient: dict[str, object], query: str, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get(f"/Patient/{patient['id']}?{query}", headers=headers)
    assert response.status_code == 200
    assert _value(_xml(response), "id") == patient["id"]


def test_format_parameter_wins_over_accept(client: httpx.Client, patient: dict[str, object]) -> None:
    response = client.get(f"/Patient/{patient['id']}?_format=json", headers={"Accept": "application/fhir+xml"})
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.json()["id"] == patient["id"]


def test_search_bundle_and_history_in_xml(client: httpx.Client) -> None:
    family = f"Xs{uuid.uuid4().hex[:8]}"
    assert client.post("/Patient", content=_patient_xml(family), headers=XML).status_code == 201
    bundle = _xml(client.get(f"/Patient?family={family}&_format=xml"))
    assert bundle.tag == f"{NS}Bundle" and _value(bundle, "type") == "searchset" and _value(bundle, "total") == "1"
    resource = bundle.find(f"{NS}entry/{NS}resource/{NS}Patient")
    assert resource is not None and _value(resource, "name/family") == family
    history = _xml(client.get("/Patient/_history?_count=1", headers={"Accept": "application/fhir+xml"}))
    assert _value(history, "type") == "history"


def test_errors_are_operation_outcomes_in_xml(client: httpx.Client) -> None:
    missing = client.get("/Patient/no-such-patient", headers={"Accept": "application/fhir+xml"})
    assert missing.status_code == 404
    outcome = _xml(missing)
    assert outcome.tag == f"{NS}OperationOutcome" and _value(outcome, "issue/code") == "not-found"
    invalid = client.post("/Patient", content=_patient_xml("X").replace("female", "woman"), headers=XML)
    assert invalid.status_code == 400
    assert _value(_xml(invalid), "issue/expression") == "Patient.gender"


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ('<Patient xmlns="http://hl7.org/fhir"><name><family value="A"/></name>', None),
        ('<Patient xmlns="http://hl7.org/fhir/other"/>', "Patient"),
        ('<Patient xmlns="http://hl7.org/fhir"><name><surname value="A"/></name></Patient>', "Patient.name[0].surname"),
        ('<!DOCTYPE p [<!ENTITY e "x">]><Patient xmlns="http://hl7.org/fhir"/>', None),
    ],
)
def test_bad_xml_bodies_get_400_and_nothing_is_written(client: httpx.Client, body: str, location: str | None) -> None:
    before = client.get("/Patient?_summary=count").json()["total"]
    response = client.post("/Patient", content=body, headers={"Content-Type": "application/fhir+xml"})
    assert response.status_code == 400, response.text
    outcome = response.json()  # no Accept: the answer is JSON
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0].get("expression") == ([location] if location else None)
    assert client.get("/Patient?_summary=count").json()["total"] == before


def test_update_and_transaction_in_xml(client: httpx.Client, patient: dict[str, object]) -> None:
    pid = patient["id"]
    updated = client.put(
        f"/Patient/{pid}",
        content=f'<Patient xmlns="http://hl7.org/fhir"><id value="{pid}"/><active value="true"/></Patient>',
        headers={"Content-Type": "application/xml"},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["active"] is True
    family = f"Xt{uuid.uuid4().hex[:8]}"
    transaction = (
        '<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>'
        '<entry><fullUrl value="urn:uuid:4b1e8d8a-6a43-4c5e-9a43-1f0b1f6c2a11"/>'
        f'<resource><Patient><name><family value="{family}"/></name></Patient></resource>'
        '<request><method value="POST"/><url value="Patient"/></request></entry>'
        '<entry><resource><Observation><status value="final"/><code><text value="weight"/></code>'
        '<subject><reference value="urn:uuid:4b1e8d8a-6a43-4c5e-9a43-1f0b1f6c2a11"/></subject>'
        '<valueQuantity><value value="70.10"/><unit value="kg"/></valueQuantity></Observation></resource>'
        '<request><method value="POST"/><url value="Observation"/></request></entry></Bundle>'
    )
    response = client.post("", content=transaction, headers=XML)
    assert response.status_code == 200, response.text
    bundle = _xml(response)
    assert _value(bundle, "type") == "transaction-response"
    assert [_value(e, "response/status") for e in bundle.findall(f"{NS}entry")] == ["201 Created", "201 Created"]
    observations = client.get(f"/Observation?subject:Patient.family={family}")
    assert observations.json()["total"] == 1
    assert b'"value":70.10' in observations.content


def test_operation_with_a_parameters_body_in_xml(client: httpx.Client, patient: dict[str, object]) -> None:
    parameters = (
        '<Parameters xmlns="http://hl7.org/fhir">'
        '<parameter><name value="_count"/><valueInteger value="1"/></parameter></Parameters>'
    )
    response = client.post(f"/Patient/{patient['id']}/$everything", content=parameters, headers=XML)
    assert response.status_code == 200, response.text
    assert _value(_xml(response), "type") == "searchset"


def test_capability_statement_lists_xml_and_is_served_in_xml(client: httpx.Client) -> None:
    assert "application/fhir+xml" in client.get("/metadata").json()["format"]
    statement = _xml(client.get("/metadata?_format=xml"))
    assert "xml" in [f.get("value") for f in statement.findall(f"{NS}format")]


@pytest.mark.parametrize(("query", "accept"), [("", "text/html"), ("?_format=ttl", None), ("?_format=html", None)])
def test_formats_the_server_cannot_write_get_406_before_anything_happens(
    client: httpx.Client, query: str, accept: str | None
) -> None:
    before = client.get("/Patient?_summary=count").json()["total"]
    headers = {"Accept": accept} if accept else {}
    response = client.post(f"/Patient{query}", json={"resourceType": "Patient"}, headers=headers)
    assert response.status_code == 406
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.json()["issue"][0]["code"] == "not-supported"
    assert client.get("/Patient?_summary=count").json()["total"] == before


def test_unsupported_request_content_type_gets_415(client: httpx.Client) -> None:
    response = client.post("/Patient", content="<Patient/>", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "application/fhir+xml" in response.json()["issue"][0]["diagnostics"]


def test_smart_discovery_under_the_base_is_not_negotiated(client: httpx.Client) -> None:
    response = client.get("/.well-known/smart-configuration", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "token_endpoint" in response.json()


def test_fhirpath_patch_in_xml(client: httpx.Client, patient: dict[str, object]) -> None:
    operation = "".join(
        f'<part><name value="{name}"/><{kind} value="{value}"/></part>'
        for name, kind, value in (("type", "valueCode", "replace"), ("path", "valueString", "Patient.gender"),
                                  ("value", "valueCode", "male"))
    )  # fmt: skip
    body = (
        '<Parameters xmlns="http://hl7.org/fhir">'
        f'<parameter><name value="operation"/>{operation}</parameter></Parameters>'
    )
    response = client.patch(f"/Patient/{patient['id']}", content=body, headers=XML)
    assert response.status_code == 200, response.text
    assert _value(_xml(response), "gender") == "male"


def _vary(response: httpx.Response) -> list[str]:
    assert len(response.headers.get_list("vary")) == 1, response.headers.get_list("vary")
    return [value.strip().lower() for value in response.headers["vary"].split(",")]


@pytest.mark.parametrize("accept", [None, "application/fhir+json", "application/fhir+xml", "text/html"])
def test_every_fhir_answer_varies_on_accept(
    client: httpx.Client, patient: dict[str, object], accept: str | None
) -> None:
    """JSON, XML and the 406 all depend on Accept, so a cache must key on it."""
    headers = {"Accept": accept} if accept else {}
    response = client.get(f"/Patient/{patient['id']}", headers=headers)
    assert response.status_code == (406 if accept == "text/html" else 200)
    assert "accept" in _vary(response)


def test_vary_accept_and_accept_language_are_one_header(client: httpx.Client) -> None:
    response = client.get("/Patient/no-such-patient?_format=xml", headers={"Accept-Language": "de"})
    assert response.status_code == 404
    assert _vary(response)[0] == "accept" and "accept-language" in _vary(response)


def test_discovery_does_not_vary_on_accept(client: httpx.Client) -> None:
    response = client.get("/.well-known/smart-configuration")
    assert "accept" not in [v.strip().lower() for v in response.headers.get("vary", "").split(",")]
