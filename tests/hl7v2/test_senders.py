"""The senders and authorities files and the processing ids: a mistake stops the listener from starting."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.hl7v2.header import Header
from adapters.hl7v2.senders import Reading, ReadingConfigError, SenderRules, load_authorities, load_senders
from fhir_server.config import Settings


def test_a_sender_is_found_by_facility_then_application(tmp_path: Path) -> None:
    path = tmp_path / "senders.json"
    path.write_text('{"LABFAC": {"timezone": "America/Chicago"}, "LABAPP": {"invalid_values": "warn"}}')
    senders = load_senders(path)
    assert senders.of(Header(sending_app="LABAPP", sending_facility="LABFAC")) == SenderRules(
        ZoneInfo("America/Chicago"), False
    )
    assert senders.of(Header(sending_app="LABAPP", sending_facility="OTHER")) == SenderRules(None, True)
    assert senders.of(Header(sending_app="X", sending_facility="Y")) == SenderRules()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"LAB": {"timezone": "Mars/Olympus"}}', "unknown time zone"),
        ('{"LAB": {"invalid_values": "ignore"}}', "'reject' or 'warn'"),
        ('{"LAB": {"zone": "UTC"}}', "only 'timezone' and 'invalid_values'"),
        ("[1]", "a JSON object"),
        ("{", "senders file"),
    ],
)
def test_a_bad_senders_file_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "senders.json"
    path.write_text(text)
    with pytest.raises(ReadingConfigError, match=problem):
        load_senders(path)


def test_authorities_and_processing_ids(tmp_path: Path) -> None:
    path = tmp_path / "authorities.json"
    path.write_text('{"HOSP": "not a uri"}')
    with pytest.raises(ReadingConfigError, match="HOSP: the system must be a URI"):
        load_authorities(path)
    with pytest.raises(ReadingConfigError, match="is not a list of P, T, D"):
        Reading.from_settings(Settings(mllp_processing_ids="P,X"))
    assert Reading.from_settings(Settings(mllp_processing_ids=" p, T")).processing_ids == {"P", "T"}
    assert Reading.from_settings(Settings()).processing_ids == {"P"}
