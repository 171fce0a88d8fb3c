"""Reading a lab's answer: MSA-1 (AA/AE/AR, or CA/CE/CR), MSA-2 (the MSH-10 it answers) and the error texts."""

from __future__ import annotations

from dataclasses import dataclass

from ..header import decode, segments

ACCEPTED = ("AA", "CA")


@dataclass(frozen=True)
class Reply:
    """One acknowledgement."""

    code: str
    control_id: str
    text: str
    raw: str

    @property
    def accepted(self) -> bool:
        return self.code in ACCEPTED


def read_reply(payload: bytes) -> Reply | None:
    """The MSA of an acknowledgement and its texts (MSA-3, ERR-8, else ERR-3.2); None without an MSA."""
    raw = decode(payload).text
    lines = segments(raw)
    if not lines or not lines[0].startswith("MSH") or len(lines[0]) < 8:
        return None
    sep, comp = lines[0][3], lines[0][4]
    msa = next((line.split(sep) for line in lines if line.startswith("MSA" + sep)), None)
    if msa is None:
        return None
    msa += [""] * 4
    texts = [msa[3]] if msa[3] else []
    for line in lines:
        if line.startswith("ERR" + sep):
            err = line.split(sep) + [""] * 9
            code_name = (err[3].split(comp) + ["", ""])[1]
            texts.append(err[8] or code_name)
    return Reply(msa[1].strip().upper(), msa[2].split(comp)[0].strip(), " ".join(t for t in texts if t), raw)
