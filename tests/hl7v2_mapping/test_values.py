"""Every OBX value type, dates, escapes, code translation, and bad fields → the right MappingError."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from adapters.hl7v2.mapping import MappingOptions, MappingResult, map_message
from adapters.hl7v2.mapping.datatypes import parse_dtm
from adapters.hl7v2.mapping.segments import parse
from fhir_server.fhir_json import dumps

from .samples import resources

HEAD = (
    "MSH|^~\\&|LAB|FAC|||20240105101500+0100||ORU^R01|9|P|2.5.1\r"
    "PID|||P9^^^FAC^MR||Poe^Al||19700202|M\r"
    "OBR|1|PL1|FI1|24317-0^CBC^LN|||20240105090000+0100|||||||||||||||20240105100000+0100|||F\r"
)


def oru(obx: str, options: MappingOptions | None = None) -> MappingResult:
    return map_message(HEAD + obx, options)


def observation(obx: str) -> dict[str, Any]:
    (found,) = resources(oru(obx).bundle, "Observation")
    return found


@pytest.mark.parametrize(
    ("obx", "expected"),
    [
        ("OBX|1|NM|1-1^A^LN||0065.88|mg/dl", {"valueQuantity": {"value": Decimal("65.88"), "unit": "mg/dl",
            "system": "http://unitsofmeasure.org", "code": "mg/dL"}}),
        ("OBX|1|NM|1-1^A^LN||7|widgets", {"valueQuantity": {"value": 7, "unit": "widgets"}}),
        ("OBX|1|SN|1-1^A^LN||<^5|mmol/L", {"valueQuantity": {"value": 5, "unit": "mmol/L",
            "system": "http://unitsofmeasure.org", "code": "mmol/L", "comparator": "<"}}),
        ("OBX|1|SN|1-1^A^LN||^182", {"valueQuantity": {"value": 182}}),
        ("OBX|1|SN|1-1^A^LN||^1^:^2", {"valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 2}}}),
        ("OBX|1|SN|1-1^A^LN||^10^-^20", {"valueRange": {"low": {"value": 10}, "high": {"value": 20}}}),
        ("OBX|1|ST|1-1^A^LN||a \\F\\ b \\S\\ c \\T\\ d \\R\\ e \\E\\", {"valueString": "a | b ^ c & d ~ e \\"}),
        ("OBX|1|TX|1-1^A^LN||line 1~line 2", {"valueString": "line 1\nline 2"}),
        ("OBX|1|FT|1-1^A^LN||one\\.br\\two", {"valueString": "one\ntwo"}),
        ("OBX|1|CWE|1-1^A^LN||260373001^Detected^SCT", {"valueCodeableConcept": {"coding": [
            {"system": "http://snomed.info/sct", "code": "260373001", "display": "Detected"}], "text": "Detected"}}),
        ("OBX|1|CE|1-1^A^LN||Y^Yes^HL70136", {"valueCodeableConcept": {"coding": [{"system":
            "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "Y", "display": "Yes"}], "text": "Yes"}}),
        ("OBX|1|DT|1-1^A^LN||20240411", {"valueDateTime": "2024-04-11"}),
        ("OBX|1|DTM|1-1^A^LN||202404111230-0500", {"valueDateTime": "2024-04-11T12:30:00-05:00"}),
        ("OBX|1|TS|1-1^A^LN||2024041112", {"valueDateTime": "2024-04-11T12:00:00+01:00"}),
        ("OBX|1|TM|1-1^A^LN||0930", {"valueTime": "09:30:00"}),
        ("OBX|1|NR|1-1^A^LN||3.5^7", {"valueRange": {"low": {"value": Decimal("3.5")}, "high": {"value": 7}}}),
        ("OBX|1|RP|1-1^A^LN||https://x.org/img.png^^IM^PNG", {"extension": [{"url":
            "http://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.value",
            "valueAttachment": {"url": "https://x.org/img.png"}}]}),
        ("OBX|1|ED|1-1^A^LN||LAB^application^pdf^Base64^SGVsbG8=", {"extension": [{"url":
            "http://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.value",
            "valueAttachment": {"contentType": "application/pdf", "data": "SGVsbG8="}}]}),
    ],
)  # fmt: skip
def test_value_types(obx: str, expected: dict[str, Any]) -> None:
    obs = observation(obx + "||||||F")
    assert {k: v for k, v in obs.items() if k.startswith("value") or k == "extension"} == expected


@pytest.mark.parametrize(
    ("nm", "text"), [("0065.880", "65.880"), ("1.50", "1.50"), ("+0.1000000000000000055", "0.1000000000000000055"),
                     ("-.5", "-0.5"), ("0100", "100"), ("12.", "12")],
)  # fmt: skip
def test_nm_values_keep_their_digits(nm: str, text: str) -> None:
    """An NM becomes an exact decimal: trailing zeros and every digit kept, written without a binary float."""
    value = observation(f"OBX|1|NM|1-1^A^LN||{nm}|mg/dl||||||F")["valueQuantity"]["value"]
    assert dumps(value).decode() == text


@pytest.mark.parametrize(
    ("obx", "location"),
    [
        ("OBX|1|NM|1-1^A^LN||12,5", "OBX^1^5"),
        ("OBX|1|SN|1-1^A^LN||~~^abc", "OBX^1^5"),
        ("OBX|1|DT|1-1^A^LN||2024-04-11", "OBX^1^5"),
        ("OBX|1|TM|1-1^A^LN||2561", "OBX^1^5"),
        ("OBX|1|ED|1-1^A^LN||LAB^application^pdf^Base64^not base64!", "OBX^1^5"),
        ("OBX|1|XYZ|1-1^A^LN||what", "OBX^1^2"),
    ],
)
def test_bad_values_are_skipped_with_a_102_warning_when_the_sender_allows_it(obx: str, location: str) -> None:
    result = oru(obx + "||||||F", MappingOptions(accept_invalid=True))
    (obs,) = resources(result.bundle, "Observation")
    assert not any(k.startswith("value") for k in obs)
    assert any(e.code == "102" and e.location == location and e.severity == "W" for e in result.errors)


@pytest.mark.parametrize(
    ("obx", "location"),
    [
        ("OBX|1|NM|1-1^A^LN||one hundred||||||F", "OBX^1^5"),
        ("OBX|1|SN|1-1^A^LN||~~^abc||||||F", "OBX^1^5"),
        ("OBX|1|DT|1-1^A^LN||2024-04-11||||||F", "OBX^1^5"),
        ("OBX|1|NM|1-1^A^LN||5||||||F|||2024-01-05 08:00", "OBX^1^14"),
        ("OBX|1|NM|1-1^A^LN||5||||||F|||20241305", "OBX^1^14"),
    ],
)
def test_values_that_cannot_be_stored_as_sent_refuse_the_message(obx: str, location: str) -> None:
    result = oru(obx)
    assert result.bundle is None
    assert [(e.code, e.location, e.severity) for e in result.errors if e.severity == "E"] == [("102", location, "E")]


def test_status_interpretation_range_and_alternate_code() -> None:
    obs = observation("OBX|1|NM|470^HGB^LAB_COD^4546-8^HEMOGLOBIN^LN|2|14.31|g/dL|4.50&5.90|LL~AA|||C|||20240105")
    assert [c["code"] for c in obs["code"]["coding"]] == ["470", "4546-8"]
    assert obs["code"]["coding"][1]["system"] == "http://loinc.org"
    assert obs["status"] == "corrected"
    assert [i["coding"][0]["code"] for i in obs["interpretation"]] == ["LL", "AA"]
    low = obs["referenceRange"][0]["low"]["value"]
    assert str(low) == "4.50" and obs["referenceRange"][0]["text"] == "4.50&5.90"  # the NM's digits, not 4.5
    assert obs["identifier"] == [{"system": "urn:hl7v2:obx", "value": "FI1-470-2"}]
    assert obs["effectiveDateTime"] == "2024-01-05"


@pytest.mark.parametrize(
    ("flag", "status"),
    [
        ("P", "preliminary"),
        ("X", "cancelled"),
        ("D", "entered-in-error"),
        ("W", "entered-in-error"),
        ("I", "registered"),
        ("R", "preliminary"),
    ],
)
def test_observation_status_table_0085(flag: str, status: str) -> None:
    assert observation(f"OBX|1|NM|1-1^A^LN||1||||||{flag}")["status"] == status


def test_unknown_codes_warn_103() -> None:
    result = oru("OBX|1|NM|1-1^A^LN||1|||ZZ|||Q")
    (obs,) = resources(result.bundle, "Observation")
    assert obs["status"] == "unknown" and "interpretation" not in obs
    assert {(e.code, e.location) for e in result.errors} == {("103", "OBX^1^8"), ("103", "OBX^1^11")}


def test_translate_adds_a_coding_and_keeps_the_local_one() -> None:
    def translate(system: str, code: str) -> dict[str, Any] | None:
        return {"system": "http://loinc.org", "code": "2345-7"} if code == "GLU" else None

    result = oru("OBX|1|NM|GLU^Glucose^L||5.4|mmol/L||||F", MappingOptions(translate=translate))
    (obs,) = resources(result.bundle, "Observation")
    assert [c["code"] for c in obs["code"]["coding"]] == ["GLU", "2345-7"]


def test_report_fields_and_nte() -> None:
    bundle = oru("OBX|1|NM|1-1^A^LN||1||||||F\rNTE|1|L|obs note").bundle
    (report,) = resources(bundle, "DiagnosticReport")
    assert report["status"] == "final" and report["issued"] == "2024-01-05T10:00:00+01:00"
    assert report["effectiveDateTime"] == "2024-01-05T09:00:00+01:00"
    assert resources(bundle, "Observation")[0]["note"] == [{"text": "obs note"}]
    with_note = map_message(HEAD + "NTE|1|L|report note\rOBX|1|NM|1-1^A^LN||1||||||F").bundle
    (report,) = resources(with_note, "DiagnosticReport")
    assert report["extension"][0]["valueAnnotation"] == {"text": "report note"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", "2024"),
        ("202401", "2024-01"),
        ("20240105", "2024-01-05"),
        ("202401051030+0100", "2024-01-05T10:30:00+01:00"),
        ("20240105103015.123-0500", "2024-01-05T10:30:15.123-05:00"),
        ("20240105103015", "2024-01-05"),  # no zone anywhere: the date only
        ("PIDDOB!", None),
        ("220241021055726", None),
        ("20241301", None),
        ("20240105256000", None),
    ],
)
def test_dtm(text: str, expected: str | None) -> None:
    assert parse_dtm(text) == expected


def test_times_without_zone_take_msh7_or_the_default_zone() -> None:
    assert parse_dtm("20240105103015", "+02:00") == "2024-01-05T10:30:15+02:00"
    obs = observation("OBX|1|NM|1-1^A^LN||1||||||F|||202401050800")
    assert obs["effectiveDateTime"] == "2024-01-05T08:00:00+01:00"  # MSH-7 offset
    no_zone = HEAD.replace("20240105101500+0100", "20240105101500")
    text = no_zone + "OBX|1|NM|1-1^A^LN||1||||||F|||202401050800"
    (obs,) = resources(map_message(text, MappingOptions(default_timezone="Z")).bundle, "Observation")
    assert obs["effectiveDateTime"] == "2024-01-05T08:00:00Z"


def test_custom_delimiters() -> None:
    message = parse("MSH#*%$@#A\rPID###P1*B@C*D")
    assert message.segments[1].c(3, 1) == "P1" and message.segments[1].first(3).sub(2).c(2) == "C"  # type: ignore[union-attr]


def test_bad_patient_fields() -> None:
    text = HEAD.replace("||19700202|M", "||1970020|X") + "OBX|1|NM|1-1^A^LN||1||||||F"
    result = map_message(text)
    assert result.bundle is not None
    found = {(e.code, e.location, e.severity) for e in result.errors}
    assert found == {("102", "PID^1^7", "W"), ("103", "PID^1^8", "W")}
    missing = map_message(HEAD.replace("P9^^^FAC^MR", ""))
    assert missing.bundle is None and missing.errors[0].code == "101" and missing.errors[0].location == "PID^1^3"
