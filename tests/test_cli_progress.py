"""The data commands' progress bar only goes forward, though pieces finish out of order."""

from __future__ import annotations

import io
import re

from fhir_server.progress import Progress


def test_progress_never_goes_backwards_when_pieces_finish_out_of_order() -> None:
    for tty in (False, True):
        stream = io.StringIO()
        progress = Progress("resources", total=100, stream=stream, tty=tty, plain_interval=0)
        progress._interval = 0  # draw at every report
        for done in (10, 50, 46, 30, 60, 55, 100, 90):  # where each piece was read, in the order they finished
            progress.advance(1, done=done)
        percents = [int(p) for p in re.findall(r"(\d+)%", stream.getvalue())]
        assert percents == [10, 50, 50, 50, 60, 60, 100, 100], (tty, percents)
        assert progress.items == 8 and progress.done == 100
    progress.restart(200)
    assert progress.done == 0  # a new pass starts from zero
