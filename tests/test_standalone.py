"""A clone with nothing beside it passes: every file the tests read lives in the repository.

The tracked (and not ignored) files are copied into an empty folder and the tests that
replay data run there, so a path outside the repository (a sibling `shared/`, a home
folder) fails here instead of on a newcomer's first `make test`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AMI = ROOT / "tests" / "data" / "ami"


def _repo_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [f for f in out.decode().split("\0") if f and (ROOT / f).is_file()]


def test_the_ami_captures_are_byte_exact_with_their_licence_notice() -> None:
    notice = (AMI / "README.md").read_text(encoding="utf-8")
    assert "MIT" in notice and "Origin" in notice
    shapes = AMI / "verbara" / "queue-shapes-asterisk-22.9.0.raw"
    data = shapes.read_bytes()
    assert len(data) == 256_350
    assert hashlib.sha256(data).hexdigest() == (
        "ef64b1de9499ea730144f05ed1a314a2e36e80d68627ce41f4dde70aa2faf5d1"
    )
    assert b"\r\n\r\n" in data  # CRLF framing survived the checkout


def test_no_code_reads_a_folder_beside_the_repository() -> None:
    offenders = [
        f
        for f in _repo_files()
        if f.endswith(".py") and f != "tests/test_standalone.py"
        for line in (ROOT / f).read_text(encoding="utf-8").splitlines()
        if re.search(r"""["'/]shared["'/]|ami-traces""", line)
    ]
    assert offenders == []


def test_the_data_tests_pass_in_a_copy_with_nothing_beside_it(tmp_path: Path) -> None:
    clone = tmp_path / "lonely" / "hotline"
    for f in _repo_files():
        target = clone / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, target)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["PYTHONPATH"] = str(clone)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
            "-m",
            "not postgres and not switch and not mqtt",
            "tests/telephony",
        ],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout
