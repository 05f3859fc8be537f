"""A whole Hotline (the composition root and every background loop, no switch) that calls
end into, for the fault tests: each test breaks one thing for a while and then shows by
counts that nothing was lost. Short budgets: the waiting backoff is a fraction of a second
here (minutes in production)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from hotline.api import app as app_module
from hotline.core.settings import AsrSettings, RecordingSettings, Settings
from hotline.telephony.model import CallRecord
from tests.api.test_pipeline import KO_MODEL, korean_call
from tests.factories import answered_call

SWITCH_SPOOL = "/var/spool/asterisk/monitor"


@dataclass(frozen=True)
class Counts:
    calls_ended: int
    archived: int
    transcripts: int
    scores: int
    tickets: int
    duplicates: int

    @property
    def nothing_lost(self) -> bool:
        n = self.calls_ended
        return (self.archived, self.transcripts, self.scores, self.tickets) == (n, n, n, n) and (
            self.duplicates == 0
        )

    def line(self, fault: str) -> str:
        return (
            f"| {fault} | {self.calls_ended} | {self.archived} | {self.transcripts} | "
            f"{self.scores} | {self.tickets} | {self.duplicates} |"
        )


COUNTS = """
SELECT
  (SELECT count(*) FROM calls WHERE call_id LIKE 'fault-%') AS calls_ended,
  (SELECT count(*) FROM recordings WHERE status = 'archived') AS archived,
  (SELECT count(*) FROM transcripts WHERE status = 'done') AS transcripts,
  (SELECT count(DISTINCT call_id) FROM quality_scores) AS scores,
  (SELECT count(DISTINCT call_id) FROM tickets WHERE call_id LIKE 'fault-%') AS tickets,
  (SELECT count(*) - count(DISTINCT call_id) FROM recordings)
  + (SELECT count(*) - count(DISTINCT recording_id) FROM transcripts)
  + (SELECT count(*) - count(DISTINCT call_id) FROM quality_scores)
  + (SELECT count(*) - count(DISTINCT call_id) FROM tickets) AS duplicates
"""


class Rig:
    def __init__(self, c: app_module.Container, spool: Path, template: Path) -> None:
        self.c = c
        self.spool = spool
        self.template = template
        self.ended: list[CallRecord] = []

    def write_recording(self, n: int, spool: Path | None = None) -> str:
        """MixMonitor's three files for call n (as the switch writes them, into `spool`:
        by default the folder Hotline sees)."""
        day = (spool or self.spool) / "20261204"
        day.mkdir(parents=True, exist_ok=True)
        stem = f"fault-{n:03d}"
        for suffix in ("", "-in", "-out"):
            shutil.copy(self.template / f"t{suffix}.wav", day / f"{stem}{suffix}.wav")
        return f"{SWITCH_SPOOL}/20261204/{stem}.wav"

    async def end_call(self, n: int, *, spool: Path | None = None) -> CallRecord:
        """Call n ends: the consumer stores it and runs its after-call work."""
        switch_path = self.write_recording(n, spool)
        record = answered_call(f"fault-{n:03d}", recording_file=switch_path)
        self.ended.append(record)
        await self.c.call_service.ended(record)
        return record

    async def counts(self) -> Counts:
        async with self.c.sessions() as session:
            row = (await session.execute(text(COUNTS))).one()
        return Counts(*(int(v) for v in row))

    async def archived(self, n: int, timeout: float = 20.0) -> None:
        """Wait until n recordings are archived."""
        async with asyncio.timeout(timeout):
            while (await self.counts()).archived < n:
                await asyncio.sleep(0.1)

    async def settle(self, timeout: float = 60.0) -> Counts:
        """Wait until every ended call has gone through every stage (or the time is up)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                counts = await self.counts()
            except Exception:  # the database may still be coming back
                counts = None
            if counts is not None and counts.nothing_lost and counts.calls_ended == len(self.ended):
                return counts
            if time.monotonic() > deadline:
                assert counts is not None, "the database never came back"
                return counts
            await asyncio.sleep(0.3)


def settings(tmp_path: Path, db_url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = dict(
        data_dir=tmp_path,
        database_url=db_url,
        recording=RecordingSettings(
            settle_s=0.0, wait_for_file_s=5.0, path_map={SWITCH_SPOOL: str(tmp_path / "spool")}
        ),
        asr=AsrSettings(model_dir=KO_MODEL, workers=1),
        jobs_wait_backoff_min=0.3 / 60,  # 0.3 s
        jobs_wait_max_backoff_min=1.0 / 60,  # 1 s
        jobs_concurrency=4,
        jobs_poll_s=0.2,
        jobs_lease_s=3.0,  # a silent worker's jobs are taken back after 3 s (60 s in production)
    )
    base.update(overrides)
    return Settings(**base)


_TEMPLATE: dict[str, Path] = {}


def template(base: Path) -> Path:
    """One short call (a customer's Korean sentence, a silent agent), made once."""
    if "t" not in _TEMPLATE:
        folder = base / "fault-template"
        korean_call(folder, "t")
        _TEMPLATE["t"] = folder
    return _TEMPLATE["t"]


@asynccontextmanager
async def running(s: Settings, template_dir: Path) -> AsyncIterator[Rig]:
    c = app_module.build(s)
    app_module.create_app(container=c)
    await app_module.start(c)
    try:
        yield Rig(c, s.data_dir / "spool", template_dir)
    finally:
        await app_module.stop(c)
