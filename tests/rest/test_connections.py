"""Bad and oversized HTTP requests get an OperationOutcome, and after any error the connection is
either still usable or closed by a response that said `Connection: close`."""

from __future__ import annotations

import json

import pytest

from fhir_server.rest.http_protocol import MAX_HEADER_BYTES, MAX_URL_BYTES
from tests.conftest import ServerProcess
from tests.rest.raw_http import RawResponse, closed_by_server, exchange, open_connection, request

FHIR = {"Content-Type": "application/fhir+json"}
SCRIPT_DIV = '<div xmlns="http://www.w3.org/1999/xhtml"><img src="x" onerror="alert(1)"/></div>'


def _outcome(response: RawResponse) -> list[dict[str, object]]:
    assert response.headers["content-type"].startswith("application/fhir+json"), response.headers
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    issues: list[dict[str, object]] = body["issue"]
    return issues


def _assert_connection_is_usable_or_said_close(server: ServerProcess, raw: bytes, status: int) -> None:
    with open_connection(server.base) as sock:
        response = exchange(sock, raw)
        assert response.status == status, response.body[:500]
        assert _outcome(response)
        if response.says_close:
            assert closed_by_server(sock)
            return
        again = exchange(sock, request("GET", "/fhir/Patient?_count=1"))
        assert again.status == 200
        assert again.json()["resourceType"] == "Bundle"


def test_a_url_over_the_cap_is_414_with_an_outcome_and_closes(server: ServerProcess) -> None:
    target = "/fhir/Patient?name=" + "x" * 100_000
    with open_connection(server.base) as sock:
        response = exchange(sock, request("GET", target))
        assert response.status == 414
        [issue] = _outcome(response)
        assert issue["code"] == "too-costly"
        assert str(MAX_URL_BYTES) in str(issue["diagnostics"])
        assert "_search" in str(issue["diagnostics"])
        assert response.says_close
        assert closed_by_server(sock)


def test_a_url_just_under_the_cap_is_served(server: ServerProcess) -> None:
    prefix = "/fhir/Patient?_count=1&_elements=id&"
    target = prefix + "_id=" + "a" * (MAX_URL_BYTES - len(prefix) - len("_id="))
    assert len(target) == MAX_URL_BYTES
    with open_connection(server.base) as sock:
        response = exchange(sock, request("GET", target))
        assert response.status != 414
        assert response.status < 500


def test_header_fields_over_the_cap_are_431_and_close(server: ServerProcess) -> None:
    headers = {f"X-Filler-{i}": "v" * 1000 for i in range(MAX_HEADER_BYTES // 1000 + 1)}
    with open_connection(server.base) as sock:
        response = exchange(sock, request("GET", "/fhir/Patient", headers))
        assert response.status == 431
        assert _outcome(response)[0]["code"] == "too-costly"
        assert response.says_close
        assert closed_by_server(sock)


@pytest.mark.parametrize(
    "raw", [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /fhir/Patient HTTP/1.1\r\nBad Header\r\n\r\n"]
)
def test_unparseable_requests_get_a_400_outcome_and_close(server: ServerProcess, raw: bytes) -> None:
    with open_connection(server.base) as sock:
        response = exchange(sock, raw)
        assert response.status == 400
        assert _outcome(response)[0]["code"] == "structure"
        assert response.says_close
        assert closed_by_server(sock)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (request("GET", "/fhir/Patient/does-not-exist"), 404),
        (request("GET", "/fhir/NoSuchType"), 404),
        (request("POST", "/fhir/Patient/some-id", FHIR, b'{"resourceType": "Patient"}'), 405),
        (request("POST", "/fhir/Patient", FHIR, b'{"resourceType": "Patient", "name": ['), 400),
        (request("POST", "/fhir/Patient", {"Content-Type": "text/plain"}, b"hello"), 415),
        (
            request(
                "POST",
                "/fhir/Patient",
                FHIR,
                json.dumps({"resourceType": "Patient", "text": {"status": "generated", "div": SCRIPT_DIV}}).encode(),
            ),
            400,
        ),
        (request("PUT", "/fhir/Patient/a", FHIR, b'{"resourceType": "Patient", "id": "b"}'), 400),
        (request("GET", "/fhir/Patient?_count=abc"), 400),
        (
            request(
                "POST", "/fhir/Patient", FHIR, b'{"resourceType": "Patient", "x": "' + b"y" * (17 * 1024 * 1024) + b'"}'
            ),
            413,
        ),
    ],
    ids=["404-id", "404-type", "405", "400-json", "415", "400-narrative", "400-id", "400-param", "413-body"],
)
def test_after_an_error_the_connection_still_serves(server: ServerProcess, raw: bytes, status: int) -> None:
    _assert_connection_is_usable_or_said_close(server, raw, status)
