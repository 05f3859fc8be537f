"""Fixtures for tests against a real Asterisk 22 (Debian sid chroot, started here).

The one rule: if the switch cannot be had, the tests FAIL with the reason; they never
skip, so a CI machine that cannot build the chroot shows red, not green.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.switch.asterisk import Asterisk, AsteriskError, ensure_chroot

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(pytest.mark.switch)


@pytest.fixture(scope="session")
def asterisk() -> Iterator[Asterisk]:
    """A running Asterisk 22 with the deploy config plus the test simulator.

    Attributes: ami_port, ami_username, ami_secret (127.0.0.1), monitor_dir (recordings as
    seen from the host), host_path(inner) for paths Asterisk reports, log()/log_tail(),
    cli(cmd). Methods: restart() (same port, recordings kept), stop(), start(), kill().
    """
    try:
        root = ensure_chroot(os.environ.get("HOTLINE_ASTERISK_ROOT"))
        switch = Asterisk(root=root)
        switch.start()
    except AsteriskError as exc:
        pytest.fail(f"cannot run the switch tests: {exc}", pytrace=False)
    try:
        yield switch
    finally:
        if not switch.running:
            print("asterisk was not running at teardown; log tail:\n" + switch.log_tail())
        switch.stop()
