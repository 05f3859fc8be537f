"""Fault: the switch's recording folder (an NFS mount) is missing for a while. The calls
that end meanwhile wait, charging no attempt, longer than the wait for a missing file, and
are archived, transcribed, scored and ticketed once the folder is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hotline.core.jobs import JobState
from tests.faults import rig


async def test_the_recording_folder_missing_for_a_while_loses_nothing(tmp_path: Path) -> None:
    s = rig.settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    async with rig.running(s, rig.template(tmp_path)) as r:
        await r.end_call(1)
        await r.end_call(2)
        await r.archived(2)
        away = tmp_path / "nfs-server"
        r.spool.rename(away)  # the mount drops
        for n in (3, 4, 5):  # the switch keeps recording on its side
            await r.end_call(n, spool=away)
        await asyncio.sleep(s.recording.wait_for_file_s + 1)  # longer than a missing file
        pending = await r.c.jobs.status("archive", state=JobState.PENDING)
        assert len(pending) == 3 and all(j.attempts == 0 for j in pending), pending
        assert all("录音目录" in (j.reason or "") for j in pending)
        away.rename(r.spool)  # the mount is back
        counts = await r.settle()
        print(counts.line("recording folder missing 6 s"))
        assert counts.nothing_lost and counts.calls_ended == 5, counts
        assert await r.c.jobs.status(state=JobState.FAILED) == []
