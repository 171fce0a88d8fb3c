"""The reminder rules file and the plan it gives an appointment: precedence, passed reminders, bad files."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fhir_server.reminders.config import DEFAULT_RULES, parse_rules
from fhir_server.reminders.planning import plan
from fhir_server.storage import EmbeddedDatabase
from tests.conftest import ServerProcess

BOOKED_AT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
RULES = parse_rules({
    "default": [{"id": "48h", "before": "48h"}, {"id": "2h", "before": "2h", "channels": ["email", "sms"]}],
    "locations": {"Location/branch": [{"id": "1d", "before": "1d", "channels": ["sms"]}]},
    "visitTypes": {"urn:visit|quick": [], "vaccination": [{"id": "30m", "before": "30m"}]},
})  # fmt: skip


def visit(hours_ahead: float, *, status: str = "booked", **extra: Any) -> dict[str, Any]:
    start = BOOKED_AT + timedelta(hours=hours_ahead)
    return {"resourceType": "Appointment", "status": status, "start": start.isoformat().replace("+00:00", "Z"),
            "participant": [{"actor": {"reference": "Patient/p"}}], **extra}  # fmt: skip


def test_visit_type_wins_over_location_which_wins_over_the_default() -> None:
    at_branch = {"participant": [{"actor": {"reference": "Location/branch"}}]}
    assert [r.id for r in RULES.for_appointment(at_branch)] == ["1d"]
    quick = {**at_branch, "serviceType": [{"coding": [{"system": "urn:visit", "code": "quick"}]}]}
    assert RULES.for_appointment(quick) == ()
    vaccination = {"appointmentType": {"coding": [{"system": "urn:other", "code": "vaccination"}]}}
    assert [r.id for r in RULES.for_appointment(vaccination)] == ["30m"]
    assert [r.id for r in RULES.for_appointment({})] == ["48h", "2h"]


def test_a_plan_sends_the_nearest_passed_reminder_at_once_and_the_later_ones_on_time() -> None:
    later = plan(visit(72), RULES.default, BOOKED_AT)
    assert [(p.rule, p.channel, p.due - BOOKED_AT) for p in later] == [
        ("48h", "email", timedelta(hours=24)), ("2h", "email", timedelta(hours=70)), ("2h", "sms", timedelta(hours=70)),
    ]  # fmt: skip
    tomorrow = plan(visit(30), RULES.default, BOOKED_AT)
    in_28_hours = BOOKED_AT + timedelta(hours=28)
    assert [(p.rule, p.due) for p in tomorrow] == [("48h", BOOKED_AT), ("2h", in_28_hours), ("2h", in_28_hours)]
    soon = plan(visit(1), RULES.default, BOOKED_AT)
    assert [(p.rule, p.due) for p in soon] == [("2h", BOOKED_AT), ("2h", BOOKED_AT)]


@pytest.mark.parametrize(
    "appointment",
    [
        visit(30, status="pending"),
        visit(30, status="cancelled"),
        visit(-1),
        {**visit(30), "participant": []},
        {**visit(30), "start": "2026-12-08T10:00:00"},
    ],  # fmt: skip
    ids=["pending", "cancelled", "past", "no patient", "no offset"],
)
def test_no_plan_for_what_is_not_a_booked_visit_to_come(appointment: dict[str, Any]) -> None:
    assert plan(appointment, DEFAULT_RULES.default, BOOKED_AT) == []


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"default": [{"id": "x", "before": "2 weeks"}]}, "default[0]: before"),
        ({"default": [{"id": "x", "before": "2h", "channels": ["fax"]}]}, "default[0]: channels"),
        ({"default": [{"before": "2h"}]}, "default[0]: a rule needs an id"),
        ({"default": [{"id": "x", "before": "2h"}, {"id": "x", "before": "1h"}]}, "default: rule ids repeat"),
        ({"visitTypes": {"a": {"id": "x"}}}, "visitTypes.a: a list"),
    ],  # fmt: skip
)
def test_a_bad_rules_file_is_refused_naming_the_part(raw: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        parse_rules(raw)


def test_a_server_with_a_bad_rules_file_does_not_start(database: EmbeddedDatabase, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text('{"default": [{"id": "x", "before": "soon"}]}')
    with pytest.raises(RuntimeError, match="before must be like"):
        ServerProcess(["--mongodb-uri", database.uri, "--database", "fhir_bad_rules"], tmp_path / "server.log",
                      env={"FHIR_REMINDER_RULES_FILE": str(rules)})  # fmt: skip
