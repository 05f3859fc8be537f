"""Waveform peaks: the pure bucketing, and the peaks of a real archived two-channel call
decoded by ffmpeg in a stream."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotline.core.errors import Conflict
from hotline.recording import audio, peaks
from hotline.recording.store import Layout, Recording, Status
from tests.recording import audio_fixtures as af

AT = datetime(2024, 11, 23, 2, 0, tzinfo=UTC)


# --- pure ------------------------------------------------------------------------------------


def test_min_and_max_of_each_bucket_per_channel() -> None:
    # left: 0, 100, -200, 300 | right: 10, -10, 20, -20 ; two frames a bucket
    samples = [0, 10, 100, -10, -200, 20, 300, -20]
    left, right = peaks.bucket_peaks(samples, channels=2, per_peak=2)
    assert left == [0.0, round(100 / 32768, 3), round(-200 / 32768, 3), round(300 / 32768, 3)]
    assert right == [round(-10 / 32768, 3), round(10 / 32768, 3), -0.001, 0.001]


def test_full_scale_is_one_and_a_short_last_bucket_is_kept() -> None:
    (mono,) = peaks.bucket_peaks([-32768, 32767, 0, 16384, 5], channels=1, per_peak=2)
    assert mono == [-1.0, 1.0, 0.0, 0.5, 0.0, 0.0]  # [5] alone: ~0.0002 rounds to 0


def test_chunks_split_anywhere_give_the_same_peaks() -> None:
    frames = [((i * 37) % 2001 - 1000, (i * 91) % 4001 - 2000) for i in range(1003)]
    samples = [v for f in frames for v in f]
    pcm = b"".join(v.to_bytes(2, "little", signed=True) for v in samples)
    whole = peaks.bucket_peaks(samples, channels=2, per_peak=10)
    for size in (1, 3, 7, 64, 4001):
        b = peaks.PeakBuckets(2, 10)
        for i in range(0, len(pcm), size):
            b.feed(pcm[i : i + size])
        assert b.finish() == whole, size
    assert len(whole[0]) == 2 * 101  # 100 full buckets and a short one


def test_resolution_is_fixed_until_the_cap() -> None:
    assert peaks.samples_per_peak(10, rate=8000, per_second=50, max_peaks=8000) == 160
    assert peaks.samples_per_peak(160, rate=8000, per_second=50, max_peaks=8000) == 160
    # a 10-minute call: at most 8000 peaks a channel
    spp = peaks.samples_per_peak(600, rate=8000, per_second=50, max_peaks=8000)
    assert spp == 600 and 600 * 8000 / spp <= 8000
    assert peaks.samples_per_peak(0.001, rate=8000) >= 1
    with pytest.raises(ValueError):
        peaks.PeakBuckets(0, 10)


# --- a real archived call --------------------------------------------------------------------


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> af.AudioKit:
    return af.session_kit(tmp_path_factory.getbasetemp())


def recording(path: str, layout: Layout, channels: int, duration_s: float) -> Recording:
    return Recording(
        id=7,
        call_id="1700000000.7",
        status=Status.ARCHIVED,
        reason=None,
        attempts=1,
        next_attempt_at=None,
        sources={},
        layout=layout,
        path=path,
        codec="opus",
        sample_rate=8000,
        channels=channels,
        duration_s=duration_s,
        size_bytes=None,
        sha256=None,
        source_sha256=None,
        created_at=AT,
        archived_at=AT,
        started_at=AT,
        caller_number="13800138000",
        agent="PJSIP/1001",
        queue="hotline",
        retain_until=AT,
        important=False,
        legal_hold=False,
        hold_reason=None,
    )


async def archived_stereo(root: Path, kit: af.AudioKit) -> Recording:
    rel = "2024/11/23/1700000000.7-0123abcd.ogg"
    (root / rel).parent.mkdir(parents=True)
    await audio.transcode(
        {"customer": kit.leg_in, "agent": kit.leg_out}, root / rel, codec="opus", bitrate_kbps=16
    )
    info = await audio.probe(root / rel)
    return recording(rel, Layout.STEREO, 2, info.duration_s)


def loudest(values: list[float] | tuple[float, ...], pps: float, start: float, end: float) -> float:
    pairs = values[int(start * pps) * 2 : int(end * pps) * 2]
    return max(abs(v) for v in pairs)


async def test_customer_left_agent_right_at_fifty_peaks_a_second(
    tmp_path: Path, kit: af.AudioKit
) -> None:
    rec = await archived_stereo(tmp_path, kit)
    path = await peaks.ensure_peaks(tmp_path, rec)
    assert path == tmp_path / f"{rec.path}.peaks.json"  # beside the archived file
    data = json.loads(path.read_text())
    assert data["duration"] == pytest.approx(kit.customer_s + kit.agent_s, abs=0.1)
    assert data["names"] == ["customer", "agent"] and data["peaks_per_second"] == 50
    p = peaks.load(path)
    left, right = p.channels
    assert len(left) == len(right) == pytest.approx(2 * 50 * p.duration, abs=4)
    pps, cut = p.peaks_per_second, kit.customer_s
    # the customer speaks first (left loud, right silent), then the agent
    assert loudest(left, pps, 0.2, cut - 0.2) > 0.3 > loudest(right, pps, 0.2, cut - 0.2)
    assert loudest(right, pps, cut + 0.2, p.duration - 0.2) > 0.3
    assert loudest(left, pps, cut + 0.2, p.duration - 0.2) < 0.05
    assert all(-1.0 <= v <= 1.0 for v in left + right)


async def test_made_once_and_then_read_from_the_file(tmp_path: Path, kit: af.AudioKit) -> None:
    rec = await archived_stereo(tmp_path, kit)
    first, second = await asyncio.gather(
        peaks.ensure_peaks(tmp_path, rec), peaks.ensure_peaks(tmp_path, rec)
    )
    assert first == second
    made = first.stat().st_mtime_ns
    first.write_text(first.read_text())  # same content, new mtime if rewritten
    touched = first.stat().st_mtime_ns
    await peaks.ensure_peaks(tmp_path, rec)
    assert first.stat().st_mtime_ns == touched >= made
    assert not [p for p in first.parent.iterdir() if p.name.endswith(".part")]
    peaks.remove(tmp_path / str(rec.path))
    assert not first.exists()


async def test_a_mixed_recording_has_one_channel(tmp_path: Path, kit: af.AudioKit) -> None:
    rel = "2024/11/23/mixed-0123abcd.ogg"
    (tmp_path / rel).parent.mkdir(parents=True)
    await audio.transcode({"mixed": kit.mix}, tmp_path / rel, codec="opus", bitrate_kbps=16)
    rec = recording(rel, Layout.MIXED, 0, 0.0)  # unknown: probed
    p = peaks.load(await peaks.ensure_peaks(tmp_path, rec))
    assert p.names == ("mixed",) and len(p.channels) == 1
    assert p.duration == pytest.approx(kit.customer_s + kit.agent_s, abs=0.1)


async def test_no_peaks_before_archiving_or_of_a_broken_file(tmp_path: Path) -> None:
    rec = recording("2024/11/23/x-0123abcd.ogg", Layout.STEREO, 2, 3.0)
    with pytest.raises(Conflict) as err:
        await peaks.ensure_peaks(tmp_path, replace(rec, status=Status.PENDING, path=None))
    assert "尚未归档" in err.value.message
    with pytest.raises(audio.AudioError):  # file missing
        await peaks.ensure_peaks(tmp_path, rec)
    (tmp_path / "2024/11/23").mkdir(parents=True)
    af.random_bytes(tmp_path / "2024/11/23/x-0123abcd.ogg")
    with pytest.raises(audio.AudioError):
        await peaks.ensure_peaks(tmp_path, rec)
    assert not list((tmp_path / "2024/11/23").glob("*.json"))
    # the archive stage's call never fails the archive
    await peaks.ensure_peaks_after_archive(tmp_path, rec)


async def test_pcm_arrives_in_bounded_whole_frame_chunks(kit: af.AudioKit) -> None:
    sizes = [
        len(c) async for c in audio.stream_pcm(kit.leg_in, rate=8000, channels=2, chunk_bytes=1000)
    ]
    assert max(sizes) <= 1000 and all(s % 4 == 0 for s in sizes)
    assert sum(sizes) == pytest.approx(4 * 8000 * (kit.customer_s + kit.agent_s), rel=0.01)


async def test_stopping_early_ends_ffmpeg(kit: af.AudioKit) -> None:
    stream = audio.stream_pcm(kit.leg_in, rate=8000, channels=1, chunk_bytes=256)
    async for _ in stream:
        break
    await stream.aclose()


async def test_stopping_after_ffmpeg_filled_the_pipe_still_ends(kit: af.AudioKit) -> None:
    """A reader that stops while ffmpeg has filled the pipe and the paused stream buffer
    (a busy machine, a slow consumer) must not wait forever for ffmpeg to go."""
    stream = audio.stream_pcm(kit.leg_in, rate=48000, channels=2, chunk_bytes=256)
    async for _ in stream:
        await asyncio.sleep(1.0)  # ffmpeg decodes far ahead meanwhile
        break
    async with asyncio.timeout(20):
        await stream.aclose()
