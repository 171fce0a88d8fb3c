"""The knowledge base: the shipped file is valid and cited; an administrator's extra file is merged over it
without code, and a broken one stops the server at start with a message naming the file and the entry."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fhir_server.medications.prescribing.knowledge import SHIPPED, KnowledgeError, load_knowledge
from fhir_server.storage import EmbeddedDatabase
from tests.conftest import ServerProcess

EXTRA = {
    "version": "site-1",
    "sources": {"site": "Our pharmacy committee, 2026."},
    "ingredients": [{"code": "17767", "display": "amlodipine", "classes": ["calcium-channel-blocker"]}],
    "classes": [{"id": "calcium-channel-blocker", "display": "Calcium channel blockers", "duplicateTherapy": True}],
    "drugs": [{"code": "1000001", "display": "site formulary amlodipine 5 MG tablet",
               "ingredients": [{"code": "17767", "mg": "5"}], "ndc": ["12345-678-90"]}],
    "interactions": [{"a": "ingredient:17767", "b": "ingredient:36567", "severity": "moderate", "source": "site",
                      "summary": "Site rule: review the simvastatin dose."}],
}  # fmt: skip


def test_the_shipped_knowledge_base_is_valid_and_every_pair_cites_its_source() -> None:
    knowledge = load_knowledge()
    assert knowledge.version and knowledge.interactions and knowledge.dose_ranges
    assert all(pair.source in knowledge.sources for pair in knowledge.interactions)
    assert knowledge.drug("http://www.nlm.nih.gov/research/umls/rxnorm", "855332") is not None
    assert knowledge.drug("http://www.nlm.nih.gov/research/umls/rxnorm", "99999999") is None


def test_every_shipped_code_names_where_it_was_verified_and_every_limit_its_source() -> None:
    shipped = json.loads(SHIPPED.read_text())
    assert all(entry.get("verified") for entry in [*shipped["ingredients"], *shipped["drugs"]])
    assert all(entry["source"] in shipped["sources"] for entry in [*shipped["interactions"], *shipped["doseRanges"]])


def test_corrected_codes_ibuprofen_400_is_197805_and_aspirin_is_no_nsaid_pair_with_warfarin() -> None:
    knowledge = load_knowledge()
    ibuprofen = knowledge.drug("http://www.nlm.nih.gov/research/umls/rxnorm", "197805")
    assert ibuprofen is not None and ibuprofen.strengths == {"5640": 400}
    assert knowledge.drug("http://www.nlm.nih.gov/research/umls/rxnorm", "197806") is None
    assert "nsaid" not in knowledge.ingredient_classes.get("1191", ())


def test_an_extra_file_is_merged(tmp_path: Path) -> None:
    extra = tmp_path / "site.json"
    extra.write_text(json.dumps(EXTRA))
    knowledge = load_knowledge(extra)
    assert knowledge.version.endswith("+site-1")
    assert knowledge.drug("http://hl7.org/fhir/sid/ndc", "12345-678-90").code == "1000001"  # type: ignore[union-attr]
    assert knowledge.ingredient_classes["17767"] == ("calcium-channel-blocker",)
    assert len(knowledge.interactions) == len(load_knowledge().interactions) + 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"interactions": [{"a": "ingredient:0", "b": "class:nsaid", "severity": "high", "source": "site",
                            "summary": "x"}]}, "interactions[0]: 'ingredient:0' names no known ingredient"),
        ({"interactions": [{"a": "class:nsaid", "b": "class:nsaid", "severity": "severe", "source": "site",
                            "summary": "x"}]}, "interactions[0]: severity must be one of"),
        ({"doseRanges": [{"ingredient": "161", "maxDailyMg": "lots", "source": "site"}]}, "'lots' is not a number"),
        ({"drugs": [{"code": "1", "display": "x", "ingredients": []}]}, "drugs[0]: a drug needs at least one"),
    ],
)  # fmt: skip
def test_a_broken_extra_file_names_the_entry(tmp_path: Path, change: dict[str, object], message: str) -> None:
    extra = tmp_path / "site.json"
    extra.write_text(json.dumps({**EXTRA, **change}))
    with pytest.raises(KnowledgeError, match=message.replace("[", r"\[").replace("]", r"\]")) as raised:
        load_knowledge(extra)
    assert str(extra) in str(raised.value)


def test_the_server_uses_the_extra_file_and_refuses_to_start_with_a_broken_one(
    database: EmbeddedDatabase, tmp_path: Path
) -> None:
    extra = tmp_path / "site.json"
    extra.write_text(json.dumps(EXTRA))
    args = ["--mongodb-uri", database.uri, "--database", "fhir_knowledge_tests"]
    server = ServerProcess(args, tmp_path / "good.log", env={"FHIR_PRESCRIBING_KNOWLEDGE_FILE": str(extra)})
    try:
        medication = {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "12345-678-90"}]}
        body = {"resourceType": "MedicationRequest", "status": "draft", "intent": "order",
                "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": medication}  # fmt: skip
        assert httpx.post(f"{server.base}/fhir/MedicationRequest", json=body).status_code == 201
    finally:
        server.stop()
    extra.write_text(json.dumps({**EXTRA, "doseRanges": [{"ingredient": "nope", "maxDailyMg": 1, "source": "site"}]}))
    with pytest.raises(RuntimeError, match=r"doseRanges\[0\]: unknown ingredient 'nope'"):
        ServerProcess(args, tmp_path / "bad.log", env={"FHIR_PRESCRIBING_KNOWLEDGE_FILE": str(extra)})
