"""Fault: the archive disk is full for a while (a small tmpfs the test mounts, filled to
the last byte). Recordings wait, charging no attempt, the switch's files are kept, and
everything is archived, transcribed, scored and ticketed once space is freed."""

from __future__ import annotations

import asyncio
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.core.jobs import JobState
from hotline.core.settings import RecordingSettings
from tests.faults import rig


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB filesystem of its own (needs root, as the test machines run)."""
    mount = tmp_path / "archive"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write until the disk says no more (ENOSPC)."""
    filler = disk / "filler.bin"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


async def test_a_full_archive_disk_loses_nothing(tmp_path: Path, small_disk: Path) -> None:
    s = rig.settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    spool = tmp_path / "spool"
    s.recording = RecordingSettings(
        archive_dir=small_disk, settle_s=0.0, wait_for_file_s=5.0, path_map=s.recording.path_map
    )
    async with rig.running(s, rig.template(tmp_path)) as r:
        await r.end_call(1)
        await r.archived(1)
        filler = fill(small_disk)
        for n in (2, 3, 4):
            await r.end_call(n)
        await asyncio.sleep(3)  # full for a while
        waiting = await r.c.jobs.status("archive", state=JobState.PENDING)
        assert len(waiting) == 3 and all(j.attempts == 0 for j in waiting), waiting
        assert all("磁盘已满" in (j.reason or "") for j in waiting)
        assert len(list(spool.rglob("fault-00[234].wav"))) == 3  # the switch's files kept
        r2 = await r.c.recordings.get(2)
        assert r2 is not None and r2.status.value == "pending" and r2.attempts == 0
        filler.unlink()  # space freed
        counts = await r.settle()
        print(counts.line("archive disk full 3 s"))
        assert counts.nothing_lost and counts.calls_ended == 4, counts
        assert await r.c.jobs.status(state=JobState.FAILED) == []
