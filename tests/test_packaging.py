"""Packaging: pyproject's license is an SPDX expression with its LICENSE file, without setuptools warnings.

Runs pip's metadata preparation (the same build backend `pip install` uses) on a copy of
pyproject.toml, README.md and LICENSE; pip fetches setuptools into its isolated build environment.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path


def test_pip_install_reads_the_license_without_a_deprecation_warning(repo_root: Path, tmp_path: Path) -> None:
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(repo_root / name, tmp_path / name)
    for package in ("fhir_server", "profiles", "terminology", "adapters"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--quiet", "--report", str(report),
               "-v", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "deprecated" not in output.lower(), output
    metadata = json.loads(report.read_text())["install"][0]["metadata"]
    assert metadata["license_expression"] == "Apache-2.0"
    assert metadata["license_file"] == ["LICENSE"]
    assert (
        "Apache License" in (repo_root / "LICENSE").read_text() and "Version 2.0" in (repo_root / "LICENSE").read_text()
    )
