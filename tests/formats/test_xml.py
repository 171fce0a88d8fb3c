"""FHIR XML in and out: the 714 official R4 examples survive JSON → XML → JSON byte for byte,
and every kind of bad XML is refused with its location.

The official R4 examples exist here only in JSON (shared/fhir-r4-examples has no XML version),
so the round trip starts from JSON; the JSON is compared as the exact bytes the server writes,
so a decimal that lost a trailing zero (`1.10` → `1.1`) or an integer become a string fails.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.parsers import expat

import orjson
import pytest

from fhir_server.decimals import FhirDecimal
from fhir_server.fhir_json import dumps, loads
from fhir_server.formats.xml_read import InvalidXml, parse_xml
from fhir_server.formats.xml_write import to_xml

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "r4-examples.ndjson.gz"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


def _exact(value: Any) -> bytes:
    """The JSON the server would write, keys sorted (XML has its own element order)."""
    return dumps(value, orjson.OPT_SORT_KEYS)


@lru_cache(maxsize=1)
def _examples() -> list[dict[str, Any]]:
    with gzip.open(EXAMPLES) as lines:
        return [loads(line)["resource"] for line in lines]


def test_all_official_examples_round_trip_exactly() -> None:
    examples = _examples()
    assert len(examples) == 714
    failed = [f"{r['resourceType']}/{r.get('id')}" for r in examples if _exact(parse_xml(to_xml(r))) != _exact(r)]
    assert failed == []


def test_every_example_is_well_formed_xml_with_its_type_as_root_in_the_fhir_namespace() -> None:
    for resource in _examples():
        names: list[str] = []
        parser = expat.ParserCreate("UTF-8", " ")
        parser.StartElementHandler = lambda name, _attributes, names=names: names.append(name)
        parser.Parse(to_xml(resource), True)  # an independent parser: ExpatError if not well-formed
        assert names[0] == f"http://hl7.org/fhir {resource['resourceType']}"


def test_output_follows_the_structure_definition_order_and_xml_rules() -> None:
    patient = {
        "resourceType": "Patient",
        "birthDate": "1970-01-01",
        "_birthDate": {"id": "b", "extension": [{"url": "http://x.org/t", "valueTime": "08:00:00"}]},
        "name": [
            {
                "given": ["Ann", None],
                "_given": [None, {"extension": [{"url": "http://x.org/a", "valueBoolean": True}]}],
                "family": "Lee",
                "id": "n1",
            }
        ],
        "id": "p1",
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">a &amp; <b>b</b></div>'},
        "multipleBirthInteger": 2,
        "extension": [{"url": "http://x.org/w", "valueDecimal": FhirDecimal("70.10")}],
    }
    xml = to_xml(patient).decode()
    assert xml == (
        HEAD + '<Patient xmlns="http://hl7.org/fhir"><id value="p1"/>'
        '<text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">a &amp; <b>b</b></div></text>'
        '<extension url="http://x.org/w"><valueDecimal value="70.10"/></extension>'
        '<name id="n1"><family value="Lee"/><given value="Ann"/>'
        '<given><extension url="http://x.org/a"><valueBoolean value="true"/></extension></given></name>'
        '<birthDate id="b" value="1970-01-01"><extension url="http://x.org/t"><valueTime value="08:00:00"/></extension>'
        '</birthDate><multipleBirthInteger value="2"/></Patient>'
    )
    back = parse_xml(xml.encode())
    assert _exact(back) == _exact(patient)
    assert isinstance(back["multipleBirthInteger"], int)
    assert str(back["extension"][0]["valueDecimal"]) == "70.10"


def test_nested_resources_are_wrapped_and_strings_keep_line_breaks() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Basic",
                    "id": "b",
                    "code": {"text": 'one\n\t"two" <&>'},
                    "contained": [{"resourceType": "Patient", "id": "c", "active": False}],
                }
            }
        ],
    }
    xml = to_xml(bundle)
    assert b'<entry><resource><Basic><id value="b"/><contained><Patient>' in xml
    assert b'<text value="one&#10;&#9;&quot;two&quot; &lt;&amp;&gt;"/>' in xml
    assert parse_xml(xml) == bundle


def _refused(xml: str) -> InvalidXml:
    with pytest.raises(InvalidXml) as caught:
        parse_xml(xml.encode())
    return caught.value


FHIR = 'xmlns="http://hl7.org/fhir"'


@pytest.mark.parametrize(
    ("xml", "location", "words"),
    [
        (f"<Patient {FHIR}><active value='true'/>", None, "line 1"),
        ("<Patient><active value='true'/></Patient>", "Patient", "namespace"),
        (f"<Nothing {FHIR}/>", "Nothing", "not a FHIR resource"),
        (f"<Patient {FHIR}><name><nickname value='x'/></name></Patient>", "Patient.name[0].nickname", "nickname"),
        (f"<Patient {FHIR}><name><given value='a'/></name><foo/></Patient>", "Patient.foo", "foo"),
        (f"<Patient {FHIR}><_active value='true'/></Patient>", "Patient._active", "_active"),
        (f"<Patient {FHIR}><active value='true' colour='red'/></Patient>", "Patient.active", "colour"),
        (f"<Patient {FHIR}><id value='a'/><id value='b'/></Patient>", "Patient.id", "more than once"),
        (f"<Patient {FHIR}><active>true</active></Patient>", "Patient.active", "value"),
        (f"<Patient {FHIR}><active/></Patient>", "Patient.active", "neither"),
        (
            f"<Patient {FHIR}><text><status value='generated'/><div>x</div></text></Patient>",
            "Patient.text.div",
            "XHTML",
        ),
        (f"<Patient {FHIR}><contained/></Patient>", "Patient.contained[0]", "resource is expected"),
        (f"<Patient {FHIR}><contained><Basic/><Basic/></contained></Patient>", "Patient.contained[0]", "Only one"),
        (
            f"<Patient {FHIR}><name><given value='a'><foo/></given></name></Patient>",
            "Patient.name[0].given[0].foo",
            "foo",
        ),
        (f"<?xml version='1.0' encoding='ISO-8859-1'?><Patient {FHIR}/>", None, "UTF-8"),
        (f"<?xml-stylesheet href='x'?><Patient {FHIR}/>", None, "processing"),
        (
            f"<!DOCTYPE Patient [<!ENTITY a 'aaaa'>]><Patient {FHIR}><gender value='&a;'/></Patient>",
            None,
            "document type",
        ),
        (f"<Patient {FHIR}><gender value='&nbsp;'/></Patient>", None, "well-formed"),
    ],
)
def test_bad_xml_is_refused_with_its_location(xml: str, location: str | None, words: str) -> None:
    refused = _refused(xml)
    assert refused.location == location
    assert words.lower() in refused.message.lower()


def test_entity_expansion_is_never_attempted() -> None:
    laughs = "".join(f"<!ENTITY l{i} '{('&l' + str(i - 1) + ';') * 10}'>" for i in range(1, 10))
    refused = _refused(f"<!DOCTYPE P [<!ENTITY l0 'lol'>{laughs}]><Patient {FHIR}><gender value='&l9;'/></Patient>")
    assert "document type" in refused.message


def test_values_keep_their_json_types_and_bad_ones_go_to_the_validator_as_text() -> None:
    xml = (
        f"<Observation {FHIR}><valueQuantity><value value='0.10'/></valueQuantity>"
        "<component><valueInteger value='12'/></component><component><valueBoolean value='false'/></component>"
        "<component><valueInteger value='twelve'/></component>"
        "<component><valueQuantity><value value='1e2'/></valueQuantity></component>"
        "</Observation>"
    )
    parsed = parse_xml(xml.encode())
    value = parsed["valueQuantity"]["value"]
    assert isinstance(value, FhirDecimal) and str(value) == "0.10"
    assert [next(iter(c.values())) for c in parsed["component"][:3]] == [12, False, "twelve"]
    assert str(parsed["component"][3]["valueQuantity"]["value"]) == "1e2"


def test_narrative_is_kept_as_sent_and_gets_its_namespace_when_declared_higher_up() -> None:
    div = "<div xmlns=\"http://www.w3.org/1999/xhtml\" class='a>b'>x &lt; <br/> y</div>"
    parsed = parse_xml(f"<Basic {FHIR}><text><status value='generated'/>{div}</text></Basic>".encode())
    assert parsed["text"]["div"] == div
    prefixed = (
        f"<Basic {FHIR} xmlns:h='http://www.w3.org/1999/xhtml'><text><status value='generated'/>"
        "<h:div>x</h:div></text></Basic>"
    )
    assert parse_xml(prefixed.encode())["text"]["div"] == '<h:div xmlns:h="http://www.w3.org/1999/xhtml">x</h:div>'
    empty = f"<Basic {FHIR}><text><status value='generated'/><div xmlns='http://www.w3.org/1999/xhtml'/></text></Basic>"
    assert parse_xml(empty.encode())["text"]["div"] == "<div xmlns='http://www.w3.org/1999/xhtml'/>"


def test_schema_location_on_the_root_and_comments_are_allowed() -> None:
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<!-- a comment -->\n'
        f'<Patient {FHIR} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://hl7.org/fhir ../patient.xsd">\n  <!-- here too -->\n'
        '  <active value="true"/>\n</Patient>'
    )
    assert parse_xml(xml.encode()) == {"resourceType": "Patient", "active": True}


def test_deep_nesting_is_refused_before_anything_recurses() -> None:
    deep = '<extension url="http://x.org/e">' * 300 + "</extension>" * 300
    refused = _refused(f"<Patient {FHIR}>{deep}</Patient>")
    assert "nested too deeply" in refused.message
    assert refused.location is not None and refused.location.startswith("Patient.extension[0].extension[0]")
