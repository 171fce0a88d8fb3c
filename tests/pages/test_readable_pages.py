"""The pages as a clinician reads them, in headless chromium, in English, Spanish and German.

The sign-in page names the app asking (and shows its logo); the patient picker shows each
patient's MRN, sorted by family name, given names and birth date, with birth date and gender in
the reader's language; the consent page says in plain sentences what the app will see and do;
the staff launch page shows when a visit was and what kind it was; the refused-authorization
page carries the pages' stylesheet; /favicon.ico is served. Screenshots go to /tmp/pages/.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.browser import needs_chromium
from tests.conftest import FHIR_JSON, ServerProcess

from .conftest import PASSWORD, AuthData

pytestmark = needs_chromium

SCREENSHOTS = Path("/tmp/pages")
LOCALES = {"en": "en-US", "es": "es-ES", "de": "de-DE"}
MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
SS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]}

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "born": "Feb 3, 1980", "male": "Male", "female": "Female", "other": "Other", "mrn": "MRN",
        "identifier": "Identifier", "sign_in": "Sign in to continue to {app}.",
        "will": "If you allow it, {app} will be able to:",
        "see_obs": "See this patient's test results and measurements",
        "only_some": "To share only some kinds, untick the line above and tick them here:",
        "when": "May 5, 2024, 10:00\u202fAM", "no_date": "Date not recorded", "inpatient": "Inpatient stay",
        "in_progress": "In progress", "finished": "Finished", "checkup": "Check-up (Outpatient visit)",
        "refused": "Authorization request refused",
    },
    "es": {
        "born": "3 feb 1980", "male": "Masculino", "female": "Femenino", "other": "Otro",
        "mrn": "N.º de historia clínica", "identifier": "Identificador",
        "sign_in": "Inicie sesión para continuar en {app}.",
        "will": "Si lo permite, {app} podrá:", "see_obs": "Ver resultados de pruebas y mediciones de este paciente",
        "only_some": "Para compartir solo algunos tipos, desmarque la línea de arriba y marque aquí los que quiera:",
        "when": "5 may 2024, 10:00", "no_date": "Fecha no registrada", "inpatient": "Ingreso hospitalario",
        "in_progress": "En curso", "finished": "Finalizada", "checkup": "Check-up (Consulta ambulatoria)",
        "refused": "Solicitud de autorización rechazada",
    },
    "de": {
        "born": "03.02.1980", "male": "Männlich", "female": "Weiblich", "other": "Divers", "mrn": "Patientennummer",
        "identifier": "Kennung", "sign_in": "Melden Sie sich an, um mit {app} fortzufahren.",
        "will": "Wenn Sie zustimmen, kann {app}:", "see_obs": "Befunde und Messwerte dieses Patienten sehen",
        "only_some": "Um nur einzelne Arten freizugeben, entfernen Sie das Häkchen oben und wählen Sie sie hier aus:",
        "when": "05.05.2024, 10:00", "no_date": "Datum nicht erfasst", "inpatient": "Stationärer Aufenthalt",
        "in_progress": "Laufend", "finished": "Abgeschlossen", "checkup": "Check-up (Ambulanter Besuch)",
        "refused": "Autorisierungsanfrage abgelehnt",
    },
}  # fmt: skip


@pytest.fixture(params=sorted(LOCALES))
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def page(chromium: Browser, language: str) -> Iterator[Page]:
    context = chromium.new_context(locale=LOCALES[language], viewport={"width": 900, "height": 900})
    yield context.new_page()
    context.close()


def shot(page: Page, name: str, language: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{language}.png"), full_page=True)


def post(server: ServerProcess, resource: dict[str, Any]) -> str:
    response = httpx.post(f"{server.base}/fhir/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def patient(server: ServerProcess, family: str, given: str, born: str, gender: str, *ids: dict[str, Any]) -> str:
    body = {"resourceType": "Patient", "name": [{"family": family, "given": [given]}], "birthDate": born,
            "gender": gender, **({"identifier": list(ids)} if ids else {})}  # fmt: skip
    return post(server, body)


def sign_in(page: Page, username: str) -> None:
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_sign_in_names_the_app_and_the_picker_shows_sorted_patients_with_their_mrn(
    page: Page, language: str, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    words, given = WORDS[language], f"Pick{uuid.uuid4().hex[:8]}"
    okafor = patient(pages_server, "Okafor", given, "1990-01-01", "female",
                     {"type": SS, "value": "999-11"}, {"type": MR, "value": "MRN-3"})  # fmt: skip
    later = patient(pages_server, "Lindqvist", given, "1980-02-03", "male", {"type": MR, "value": "A-100"})
    earlier = patient(pages_server, "lindqvist", given, "1975-07-08", "other", {"system": "urn:x", "value": "X-9"})
    adams = patient(pages_server, "Adams", given, "2001-09-09", "male")
    app = "Growth Chart"
    logo = f"{pages_server.base}/favicon.svg"
    request_id = auth_data.park(auth_data.client(name=app, logo_uri=logo), "openid launch/patient patient/*.rs")

    page.goto(f"{pages_server.base}/auth/login?request={request_id}")
    assert page.get_attribute("html", "lang") == language
    assert page.inner_text(".app p") == words["sign_in"].format(app=app)
    assert page.get_attribute("img.logo", "src") == logo
    assert page.evaluate("() => document.querySelector('img.logo').naturalWidth") > 0, "the logo loads under the CSP"
    shot(page, "sign-in", language)
    sign_in(page, auth_data.user("physician"))
    page.wait_for_url("**/auth/patient?request=*")
    page.fill("#name", given)
    page.press("#name", "Enter")
    page.wait_for_selector("table.patients")
    shot(page, "picker", language)

    ids = page.eval_on_selector_all("table.patients tbody input[name=patient]", "inputs => inputs.map(i => i.value)")
    assert ids == [adams, earlier, later, okafor], "family, then given, then birth date"
    cells = [row.split("\t") for row in page.locator("table.patients tbody tr").all_inner_texts()]
    assert cells[2][2:] == [words["born"], words["male"], f"{words['mrn']} A-100"]
    assert cells[3][3:] == [words["female"], f"{words['mrn']} MRN-3"], "the MRN, not the first identifier"
    assert cells[1][3:] == [words["other"], f"{words['identifier']} X-9"], "no MRN: the first identifier, labelled"
    assert cells[0][4] == "", "no identifier: nothing"
    for raw in ("1980-02-03", ">male<", ">female<"):
        assert raw not in page.content()


def test_consent_says_in_plain_words_what_the_app_will_see(
    page: Page, language: str, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    words = WORDS[language]
    own = patient(pages_server, "Consentida", "Eva", "1980-02-03", "female", {"type": MR, "value": "C-1"})
    visit = post(pages_server, {"resourceType": "Encounter", "status": "finished",
                                "subject": {"reference": f"Patient/{own}"}, "class": {"code": "AMB"},
                                "type": [{"text": "Check-up"}],
                                "period": {"start": "2024-05-05T10:00:00Z"}})  # fmt: skip
    username = auth_data.user("patient", f"Patient/{own}")
    asked = "openid fhirUser launch/patient launch/encounter patient/Observation.rs"
    request_id = auth_data.park(auth_data.client(name="Growth Chart"), asked)
    page.goto(f"{pages_server.base}/auth/login?request={request_id}")
    sign_in(page, username)
    page.wait_for_url("**/auth/encounter?request=*")
    shot(page, "encounter-picker", language)
    assert page.locator("table.encounters tbody tr").inner_text().split("\t")[1:] == [
        words["when"],
        words["checkup"],
        words["finished"],
    ]
    page.check(f"input[name=encounter][value='{visit}']")
    page.click("form[action='/auth/encounter'] button[type=submit]")
    page.wait_for_url("**/auth/consent?request=*")
    shot(page, "consent", language)
    assert page.locator("p.context").nth(1).inner_text().endswith(f"{words['when']} · {words['checkup']}")
    assert page.inner_text("h2") == words["will"].format(app="Growth Chart")
    assert page.inner_text("label[for=scope-5]") == words["see_obs"]
    assert page.inner_text("fieldset.categories legend") == words["only_some"]
    assert f"{words['born']} · {words['mrn']} C-1" in page.locator("p.context").first.inner_text()
    for old in ("Or, with the line above unticked", "Know which person record you are", "Observation: "):
        assert old not in page.content()


def test_the_launch_page_says_when_each_visit_was_and_what_kind(
    page: Page, language: str, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    words = WORDS[language]
    chosen = patient(pages_server, f"Launchrow{uuid.uuid4().hex[:6]}", "Ada", "1980-02-03", "male")
    subject = {"reference": f"Patient/{chosen}"}
    act = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    post(pages_server, {"resourceType": "Encounter", "status": "in-progress", "subject": subject,
                        "class": {"system": act, "code": "IMP", "display": "inpatient encounter"}})  # fmt: skip
    post(pages_server, {"resourceType": "Encounter", "status": "finished", "subject": subject,
                        "class": {"system": act, "code": "AMB"}, "type": [{"text": "Check-up"}],
                        "period": {"start": "2024-05-05T10:00:00Z"}})  # fmt: skip
    auth_data.client(name="Chart viewer", launch_url="https://chart.example/launch")
    page.goto(f"{pages_server.base}/auth/login")
    sign_in(page, auth_data.user("physician"))
    page.wait_for_url("**/auth/launch-app")
    page.goto(f"{pages_server.base}/auth/launch-app?patient={chosen}")
    shot(page, "launch", language)
    rows = [row.split("\t")[1:] for row in page.locator("table.encounters tbody tr").all_inner_texts()]
    assert [words["when"], words["checkup"], WORDS[language]["in_progress"]] not in rows  # the finished one
    assert rows[0][:2] == [words["when"], words["checkup"]]
    assert rows[1] == [words["no_date"], words["inpatient"], words["in_progress"]]


def test_the_refused_authorization_page_is_styled_like_the_others(
    page: Page, language: str, pages_server: ServerProcess
) -> None:
    response = page.goto(f"{pages_server.base}/auth/authorize?client_id=no-such-app&response_type=code")
    assert response is not None and response.status == 400
    assert page.inner_text("h1") == WORDS[language]["refused"]
    shot(page, "refused", language)
    sheets = page.evaluate("() => Array.from(document.styleSheets, s => s.href)")
    assert sheets == [f"{pages_server.base}/auth/static/pages.css"]
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(244, 246, 248)"
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector('main')).backgroundColor") == "rgb(255, 255, 255)"
    )


def test_the_site_has_an_icon(page: Page, language: str, pages_server: ServerProcess) -> None:
    response = page.goto(f"{pages_server.base}/favicon.ico")
    assert response is not None and response.status == 200
    assert response.headers["content-type"] == "image/x-icon"
    assert response.body()[:4] == b"\x00\x00\x01\x00", "an ICO file"
    svg = page.goto(f"{pages_server.base}/favicon.svg")
    assert svg is not None and svg.status == 200 and svg.headers["content-type"].startswith("image/svg+xml")
