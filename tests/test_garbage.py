"""The collector policy of long-lived processes: startup frozen, young collections rare."""

from __future__ import annotations

import subprocess
import sys


def test_settle_collector_freezes_startup_and_raises_the_young_threshold() -> None:
    probe = (
        "import gc; from fhir_server.garbage import YOUNG_THRESHOLD, settle_collector; "
        "before = gc.get_threshold(); settle_collector(); after = gc.get_threshold(); "
        "assert after == (YOUNG_THRESHOLD, *before[1:]), after; assert gc.get_freeze_count() > 1000; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
