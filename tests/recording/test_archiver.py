"""The archiver, scenario by scenario, with real ffmpeg on SQLite and PostgreSQL. When to
try again is the job queue's business: see test_stage.py for the archive job."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import Conflict, NotFound, Unavailable
from hotline.core.jobs import SqlJobQueue
from hotline.recording import audio, retention
from hotline.recording.archiver import PARTIAL_DIR
from hotline.recording.audio import AudioInfo, DiskFull
from hotline.recording.store import Layout, Recording, Status
from tests.factories import answered_call
from tests.recording import audio_fixtures as af

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> af.AudioKit:
    return af.session_kit(tmp_path_factory.getbasetemp())


def call(call_id: str = "1790000000.1", stem: str | None = None):  # type: ignore[no-untyped-def]
    """A finished call whose MixMonitor file is `<spool>/20261123/<stem>.wav`."""
    return answered_call(
        call_id, recording_file=f"{af.SWITCH_SPOOL}/20261123/{stem or call_id}.wav"
    )


async def until_settled(h: af.Harness, ids: list[int], timeout: float = 20.0) -> list[Recording]:
    """Poll until none of the recordings is pending any more."""
    async with asyncio.timeout(timeout):
        while True:
            recs = [await h.store.get(i) for i in ids]
            if all(r is not None and r.status != Status.PENDING for r in recs):
                return [r for r in recs if r is not None]
            await asyncio.sleep(0.05)


def jobs_of(engine: AsyncEngine) -> SqlJobQueue:
    return SqlJobQueue(db.session_factory(engine))


# --- the happy paths ---------------------------------------------------------------------------


async def test_two_legs_archived_as_stereo_customer_left(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path)
    files = kit.call(h.spool / "20261123", "1790000000.1")
    pending = await h.service.on_call_ended(call())
    assert pending is not None and pending.status == Status.PENDING
    assert pending.sources["customer"] == str(files.customer)  # through the path map
    assert pending.agent == "PJSIP/1001" and pending.caller_number == "13800138000"
    assert pending.retain_until == pending.started_at + timedelta(days=365)

    rec = await h.service.process(pending)

    assert rec.status == Status.ARCHIVED, rec.reason
    assert (rec.layout, rec.codec, rec.channels, rec.sample_rate) == (
        Layout.STEREO,
        "opus",
        2,
        8000,
    )
    assert rec.path == f"2026/11/23/1790000000.1-{rec.sha256[:8]}.ogg"  # type: ignore[index]
    stored = h.root / rec.path
    assert h.archived_files() == [stored]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == rec.sha256
    assert rec.size_bytes == stored.stat().st_size
    assert rec.duration_s == pytest.approx(files.customer_s + files.agent_s, abs=0.1)
    assert rec.archived_at is not None
    assert files.mixed.exists() and files.customer.exists()  # delete_source is off
    assert h.topics() == ["recording/archived"]
    assert h.messages[0].payload["path"] == rec.path

    wav = tmp_path / "check.wav"
    await audio.to_wav(stored, wav)
    c, a = files.customer_s, files.agent_s
    left_c, right_c = af.channel_rms(wav, 0.2, c - 0.2)
    left_a, right_a = af.channel_rms(wav, c + 0.2, c + a - 0.2)
    assert left_c > 0.03 and right_c < left_c / 20
    assert right_a > 0.03 and left_a < right_a / 20
    original = files.customer.stat().st_size + files.agent.stat().st_size
    assert rec.size_bytes <= original / 8  # type: ignore[operator]


async def test_mixed_only_call_archived_as_mixed(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path)
    kit.call(h.spool / "20261123", "1790000000.2", legs=False)
    rec = await h.service.process(await h.service.on_call_ended(call("1790000000.2")))  # type: ignore[arg-type]
    assert rec.status == Status.ARCHIVED
    assert (rec.layout, rec.channels) == (Layout.MIXED, 1)
    assert rec.reason is None


async def test_broken_legs_fall_back_to_the_mix_with_a_note(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path)
    files = kit.call(h.spool / "20261123", "1790000000.3")
    af.truncated(kit.leg_out, files.agent)
    rec = await h.service.process(await h.service.on_call_ended(call("1790000000.3")))  # type: ignore[arg-type]
    assert (rec.status, rec.layout) == (Status.ARCHIVED, Layout.MIXED)
    assert rec.reason is not None and "已存混音" in rec.reason


async def test_no_recording_file_no_row(engine: AsyncEngine, tmp_path: Path) -> None:
    h = af.harness(engine, tmp_path)
    assert await h.service.on_call_ended(answered_call("1790000000.9", recording_file=None)) is None
    assert await h.store.due(datetime.now(UTC) + timedelta(days=1)) == []


# --- bad input ---------------------------------------------------------------------------------

BROKEN = {
    "zero-length": (lambda p, k: af.zero_length(p), "录音文件为空"),
    "truncated": (lambda p, k: af.truncated(k.mix, p), "录音文件已损坏或不完整"),
    "random-bytes": (lambda p, k: af.random_bytes(p), "不是音频文件"),
    "text": (lambda p, k: af.text_file(p), "不是音频文件"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
async def test_broken_file_fails_with_a_reason_and_the_worker_goes_on(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit, kind: str
) -> None:
    h = af.harness(engine, tmp_path, workers=1)
    make, words = BROKEN[kind]
    day = h.spool / "20261123"
    day.mkdir(parents=True)
    make(day / "1790000000.1.wav", kit)
    bad = await h.service.on_call_ended(call("1790000000.1"))
    kit.call(day, "1790000000.2")
    good = await h.service.on_call_ended(call("1790000000.2"))
    assert bad is not None and good is not None

    await h.service.process_all([bad, good])
    bad_after, good_after = await until_settled(h, [bad.id, good.id])

    assert bad_after.status == Status.FAILED
    assert bad_after.reason is not None and words in bad_after.reason
    assert "1790000000.1.wav" in bad_after.reason
    assert bad_after.path is None
    assert good_after.status == Status.ARCHIVED
    assert sorted(h.topics()) == ["recording/archived", "recording/failed"]
    failed = next(m for m in h.messages if m.topic == "recording/failed")
    assert failed.payload["call_id"] == "1790000000.1" and words in failed.payload["reason"]
    assert h.archived_files() == [h.root / good_after.path]  # type: ignore[operator]
    assert (day / "1790000000.1.wav").exists()  # the switch's file is left for people


async def test_missing_file_waits_then_fails(engine: AsyncEngine, tmp_path: Path) -> None:
    now = [datetime(2026, 11, 23, 2, 1, tzinfo=UTC)]
    h = af.harness(engine, tmp_path, clock=lambda: now[0], wait_for_file_s=120.0)
    (h.spool / "20261123").mkdir(parents=True)  # the folder is there, the file is not
    rec = await h.service.on_call_ended(call())
    assert rec is not None

    rec = await h.service.process(rec)
    assert rec.status == Status.PENDING and rec.attempts == 0  # not yet written: no attempt
    with pytest.raises(Unavailable, match="尚未就绪"):  # the archive job waits
        await af.stage(h, jobs_of(engine)).run(str(rec.id))

    now[0] += timedelta(seconds=121)
    rec = await h.service.process(rec)
    assert rec.status == Status.FAILED
    assert rec.reason is not None and rec.reason.startswith("录音文件不存在")
    assert "1790000000.1.wav" in rec.reason


async def test_waits_while_the_switch_is_still_writing(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path, settle_s=0.3)
    day = h.spool / "20261123"
    day.mkdir(parents=True)
    data = kit.mix.read_bytes()
    target = day / "1790000000.1.wav"
    target.write_bytes(data[:2000])  # the header already promises all of it

    async def writer() -> None:
        for i in range(2000, len(data), 40000):
            await asyncio.sleep(0.1)
            with target.open("ab") as f:
                f.write(data[i : i + 40000])

    rec = await h.service.on_call_ended(call())
    assert rec is not None
    written = asyncio.create_task(writer())
    rec = await h.service.process(rec)
    await written
    assert rec.status == Status.ARCHIVED, rec.reason
    assert rec.duration_s == pytest.approx(af.duration(kit.mix), abs=0.1)


# --- faults --------------------------------------------------------------------------------------


class FakeAudio:
    """The real probe, and a transcode that does what the test says."""

    def __init__(self, error: Exception | None = None, out_duration: float | None = None) -> None:
        self.error = error
        self.out_duration = out_duration
        self.transcodes = 0

    async def probe(self, path: Path) -> AudioInfo:
        info = await audio.probe(path)
        if self.out_duration is not None and path.name.endswith(".partial"):
            return replace(info, duration_s=self.out_duration)
        return info

    async def transcode(
        self, sources: Mapping[str, Path], dest: Path, *, codec: str, bitrate_kbps: int
    ) -> None:
        self.transcodes += 1
        dest.write_bytes(b"half")
        if self.error is not None:
            raise self.error
        await audio.transcode(sources, dest, codec=codec, bitrate_kbps=bitrate_kbps)


async def test_disk_full_alerts_keeps_the_source_and_stays_pending(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    fake = FakeAudio(DiskFull("磁盘已满，无法写入 (disk full while writing x)"))
    h = af.harness(engine, tmp_path, audio_tools=fake, delete_source=True)
    files = kit.call(h.spool / "20261123", "1790000000.1")
    kit.call(h.spool / "20261123", "1790000000.2")
    first = await h.service.process(await h.service.on_call_ended(call("1790000000.1")))  # type: ignore[arg-type]
    second = await h.service.process(await h.service.on_call_ended(call("1790000000.2")))  # type: ignore[arg-type]

    for rec in (first, second):
        assert rec.status == Status.PENDING and rec.attempts == 0
        assert rec.reason is not None and "磁盘已满" in rec.reason
    with pytest.raises(Unavailable, match="磁盘已满"):  # the archive job waits
        await af.stage(h, jobs_of(engine)).run(str(second.id))
    assert h.topics() == ["alert/disk_full"]  # one alert, not one per recording
    alert = h.messages[0].payload
    assert "磁盘已满" in alert["message"] and str(h.root) in alert["message"]
    assert files.mixed.exists() and files.customer.exists() and files.agent.exists()
    assert h.archived_files() == []
    assert not list((h.root / PARTIAL_DIR).rglob("*.partial"))

    fake.error = None  # space freed: the same row archives
    rec = await h.service.process(first)
    assert rec.status == Status.ARCHIVED


async def test_source_deleted_only_after_verification(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    fake = FakeAudio(out_duration=1.0)  # the archived copy comes out too short
    h = af.harness(engine, tmp_path, audio_tools=fake, delete_source=True, max_attempts=2)
    files = kit.call(h.spool / "20261123", "1790000000.1")
    rec = await h.service.on_call_ended(call())
    rec = await h.service.process(rec)  # type: ignore[arg-type]
    assert rec.status == Status.PENDING and rec.attempts == 1
    assert rec.reason is not None and "校验失败" in rec.reason
    rec = await h.service.process(rec)
    assert rec.status == Status.FAILED and rec.attempts == 2
    assert files.mixed.exists() and files.customer.exists() and files.agent.exists()
    assert h.archived_files() == []

    fake.out_duration = None
    rec = await h.service.process(await retention.retry(h.store, rec.id, "chen", datetime.now(UTC)))
    assert rec.status == Status.ARCHIVED
    assert not files.mixed.exists() and not files.customer.exists()
    assert not files.agent.exists()
    assert (h.root / rec.path).exists()  # type: ignore[operator]


async def test_a_bug_in_one_recording_does_not_stop_the_loop(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    class Buggy(FakeAudio):
        async def transcode(
            self, sources: Mapping[str, Path], dest: Path, *, codec: str, bitrate_kbps: int
        ) -> None:
            if "1790000000.1" in str(next(iter(sources.values()))):
                raise RuntimeError("boom")
            await super().transcode(sources, dest, codec=codec, bitrate_kbps=bitrate_kbps)

    h = af.harness(engine, tmp_path, audio_tools=Buggy(), max_attempts=1, workers=1)
    kit.call(h.spool / "20261123", "1790000000.1")
    kit.call(h.spool / "20261123", "1790000000.2")
    a = await h.service.on_call_ended(call("1790000000.1"))
    b = await h.service.on_call_ended(call("1790000000.2"))
    await h.service.process_all([a, b])  # type: ignore[list-item]
    a2, b2 = await until_settled(h, [a.id, b.id])  # type: ignore[union-attr]
    assert a2.status == Status.FAILED and "内部错误" in (a2.reason or "")
    assert b2.status == Status.ARCHIVED


async def test_retry_only_failed_or_pending(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path)
    kit.call(h.spool / "20261123", "1790000000.1")
    rec = await h.service.on_call_ended(call())
    assert rec is not None
    again = await retention.retry(h.store, rec.id, "chen", datetime.now(UTC))  # pending: ok
    assert again.status == Status.PENDING
    done = await h.service.process(again)
    assert done.status == Status.ARCHIVED
    with pytest.raises(Conflict, match="只有失败或待归档的录音可以重试"):
        await retention.retry(h.store, rec.id, "chen", datetime.now(UTC))
    with pytest.raises(NotFound):
        await retention.retry(h.store, 424242, "chen", datetime.now(UTC))


async def test_cancelled_mid_transcode_leaves_nothing_archived(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path)
    day = h.spool / "20261123"
    day.mkdir(parents=True)
    af.concat(day / "1790000000.1.wav", *([kit.mix] * 40))
    rec = await h.service.on_call_ended(call())
    task = asyncio.create_task(h.service.process(rec))  # type: ignore[arg-type]
    partial = h.service.partial_dir
    async with asyncio.timeout(10):
        while not (partial.is_dir() and any(partial.iterdir())):
            await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    after = await h.store.get(rec.id)  # type: ignore[union-attr]
    assert after is not None and after.status == Status.PENDING and after.path is None
    assert h.archived_files() == [] and not any(partial.iterdir())


CRASHER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from hotline.core import db
    from tests.recording import audio_fixtures as af

    async def main() -> None:
        engine = db.make_engine(sys.argv[1])
        h = af.harness(engine, Path(sys.argv[2]))
        rec = await h.store.get(int(sys.argv[3]))
        await h.service.process(rec)

    asyncio.run(main())
    """
)


async def test_killed_mid_transcode_then_recover(
    engine: AsyncEngine, db_url: str, tmp_path: Path, kit: af.AudioKit
) -> None:
    """A real crash: the archiving process is SIGKILLed while ffmpeg writes the .partial."""
    h = af.harness(engine, tmp_path)
    day = h.spool / "20261123"
    day.mkdir(parents=True)
    af.concat(day / "1790000000.1.wav", *([kit.mix] * 20))
    rec = await h.service.on_call_ended(call())
    assert rec is not None
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, db_url, str(tmp_path), str(rec.id)],
        cwd=ROOT,
        start_new_session=True,
    )
    partial = h.root / PARTIAL_DIR
    try:
        async with asyncio.timeout(20):
            while not any(p.stat().st_size for p in partial.rglob("*.partial")):
                assert proc.poll() is None, "the archiver finished before it could be killed"
                await asyncio.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # python and its ffmpeg, like a power cut
        proc.wait()

    after = await h.store.get(rec.id)
    assert after is not None and after.status == Status.PENDING and after.path is None
    assert h.archived_files() == []
    # the half-written file, under a name no row has, in the dead instance's own folder
    assert len(list(partial.rglob("*.partial"))) == 1
    # another instance, alive, is writing too: its file is not ours to delete
    alive = partial / f"{socket.gethostname()}-{os.getpid()}-beef01"
    alive.mkdir()
    (alive / "99-abcd.partial").write_bytes(b"half")

    assert await h.service.recover() == 1
    assert [p.name for p in partial.rglob("*.partial")] == ["99-abcd.partial"]
    done = await h.service.process(after)
    assert done.status == Status.ARCHIVED
    assert h.archived_files() == [h.root / done.path]  # type: ignore[operator]


async def test_add_file_skips_the_same_content(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path)
    files = kit.call(tmp_path / "old", "a", legs=False)
    copy = tmp_path / "old" / "copy-of-a.wav"
    copy.write_bytes(files.mixed.read_bytes())
    at = datetime(2020, 5, 1, 1, tzinfo=UTC)
    first = await h.service.add_file(
        files.mixed, started_at=at, caller_number="95000", agent="1001", queue=None
    )
    assert first is not None and first.source_sha256 is not None
    assert (
        await h.service.add_file(copy, started_at=at, caller_number=None, agent=None, queue=None)
        is None
    )
    rec = await h.service.process(first)
    assert rec.status == Status.ARCHIVED and rec.path is not None
    assert rec.path.startswith("2020/05/01/a-")
