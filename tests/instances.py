"""`hotline serve` as a process of its own (its port, data dir and log), for the tests that
run two instances on one database: started with the settings the test gives, probed by
its `/api/health`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from hotline.api.cli import main; sys.argv[0] = 'hotline'; main()"

Instance = tuple[subprocess.Popen[bytes], int]


def serve(tmp: Path, name: str, port: int, settings: dict[str, str]) -> Instance:
    """Start `hotline serve` on `port` with `settings` (HOTLINE_* variables) added to the
    environment; its output goes to `tmp/<name>.log`."""
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "HOTLINE_DATA_DIR": str(tmp / name),
        "HOTLINE_HTTP_PORT": str(port),
        "HOTLINE_LOG_LEVEL": "WARNING",
        **settings,
    }
    log = (tmp / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    return proc, port


async def health(port: int) -> dict[str, object] | None:
    """The instance's health answer, or None while it does not answer."""
    try:
        async with httpx.AsyncClient() as http:
            r = await http.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
            return r.json()  # type: ignore[no-any-return]
    except httpx.HTTPError:
        return None
