"""Fault: a `hotline worker` process is killed with SIGKILL (with its ffmpeg) mid-transcode,
and another mid-transcription. Their jobs are taken back once the lease runs out and done
by the service: every call archived, transcribed, scored and ticketed, none twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from hotline.api import app as app_module
from hotline.core import db
from hotline.core.jobs import JobState
from hotline.recording.store import Status
from tests.api.test_pipeline import KO_MODEL
from tests.faults import rig
from tests.recording.audio_fixtures import concat

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from hotline.api.cli import main; sys.argv[0] = 'hotline'; main()"


def worker(s_env: dict[str, str], stages: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "worker", "--stages", stages],
        cwd=ROOT,
        env=s_env,
        start_new_session=True,  # its own process group: python and its ffmpeg
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # like a power cut: no goodbye
    proc.wait()


async def test_a_worker_killed_mid_transcode_and_mid_transcription_loses_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    s = rig.settings(tmp_path, url, jobs_lease_s=2.0)
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_DATABASE_URL": url,
        "HOTLINE_RECORDING__PATH_MAP": json.dumps(s.recording.path_map),
        "HOTLINE_RECORDING__SETTLE_S": "0",
        "HOTLINE_ASR__MODEL_DIR": str(KO_MODEL),
        "HOTLINE_ASR__WORKERS": "1",
        "HOTLINE_JOBS_LEASE_S": "2",
        "HOTLINE_LOG_LEVEL": "WARNING",
    }
    template = rig.template(tmp_path)
    c = app_module.build(s)
    await db.migrate(c.engine)
    r = rig.Rig(c, s.data_dir / "spool", template)
    # call 1 is long (a minute), so that its transcode can be caught half-way
    day = r.spool / "20261204"
    day.mkdir(parents=True)
    for suffix in ("", "-in", "-out"):
        concat(day / f"fault-001{suffix}.wav", *([template / f"t{suffix}.wav"] * 10))
    await r.c.call_service.ended(
        rig.answered_call("fault-001", recording_file=f"{rig.SWITCH_SPOOL}/20261204/fault-001.wav")
    )
    r.ended.append(await c.calls.get("fault-001"))  # type: ignore[arg-type]
    await r.end_call(2)

    first = worker(env, "archive")
    partial = s.archive_root / ".partial"
    try:
        async with asyncio.timeout(20):
            while not any(p.stat().st_size for p in partial.rglob("*.partial")):
                assert first.poll() is None
                await asyncio.sleep(0.01)
    finally:
        kill(first)  # mid-transcode
    assert (await c.recordings.get(1)).status is Status.PENDING  # type: ignore[union-attr]

    second = worker(env, "archive,transcribe")
    try:
        async with asyncio.timeout(30):
            while not await c.jobs.status("transcribe", state=JobState.RUNNING):
                assert second.poll() is None
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
    finally:
        kill(second)  # mid-transcription
    await c.engine.dispose()

    async with rig.running(s, template) as service:  # the service takes over
        service.ended = r.ended
        await service.end_call(3)
        counts = await service.settle(timeout=90)
        print(counts.line("worker SIGKILLed mid-transcode and mid-transcription"))
        assert counts.nothing_lost and counts.calls_ended == 3, counts
        assert await service.c.jobs.status(state=JobState.FAILED) == []
