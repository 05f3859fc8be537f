"""Waveform peaks of an archived recording, per channel, computed once and kept beside it.

Rule: the peaks of a file come from that file only and are named after it
(`<archived name>.peaks.json`, so a file archived again gets new peaks); they are made
from a decoded stream in bounded memory, whatever the call's length, and written whole or
not at all. The bucketing itself is pure (`PeakBuckets`, `bucket_peaks`).

The JSON is what wavesurfer.js takes as pre-decoded peaks: `channels` holds one array per
channel (customer left first, then agent; a mixed recording has one) of interleaved
minimum and maximum values in -1..1, `duration` in seconds goes with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import weakref
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from hotline.core.errors import Conflict, InvalidInput
from hotline.recording import audio
from hotline.recording.policy import inside
from hotline.recording.store import Layout, Recording, Status

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DECODE_RATE = 8000  # telephone audio; enough for an envelope of any recording
PEAKS_PER_SECOND = 50
MAX_PEAKS = 8000  # per channel: a longer call gets fewer peaks per second
SUFFIX = ".peaks.json"
_FULL_SCALE = 32768.0
_making: weakref.WeakValueDictionary[Path, asyncio.Lock] = weakref.WeakValueDictionary()


@dataclass(frozen=True, slots=True)
class Peaks:
    duration: float
    sample_rate: int  # the rate the peaks were measured at
    samples_per_peak: int  # decoded samples (per channel) behind one min/max pair
    names: tuple[str, ...]  # customer, agent; or mixed
    channels: tuple[tuple[float, ...], ...]  # per channel: min, max, min, max, …

    @property
    def peaks_per_second(self) -> float:
        return self.sample_rate / self.samples_per_peak

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "duration": self.duration,
            "sample_rate": self.sample_rate,
            "samples_per_peak": self.samples_per_peak,
            "peaks_per_second": round(self.peaks_per_second, 3),
            "format": "minmax",
            "names": list(self.names),
            "channels": [list(c) for c in self.channels],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Peaks:
        return cls(
            duration=float(data["duration"]),
            sample_rate=int(data["sample_rate"]),
            samples_per_peak=int(data["samples_per_peak"]),
            names=tuple(str(n) for n in data["names"]),
            channels=tuple(tuple(float(v) for v in c) for c in data["channels"]),
        )


# --- the pure part ---------------------------------------------------------------------------


def samples_per_peak(
    duration_s: float,
    rate: int = DECODE_RATE,
    per_second: int = PEAKS_PER_SECOND,
    max_peaks: int = MAX_PEAKS,
) -> int:
    """How many samples one peak covers: `per_second` peaks a second, fewer when the
    recording is so long that it would need more than `max_peaks` (never below one)."""
    wanted = max(rate / per_second, duration_s * rate / max_peaks)
    return max(1, int(-(-wanted // 1)))  # round up: never more than max_peaks


def _level(value: int) -> float:
    return round(value / _FULL_SCALE, 3)


class PeakBuckets:
    """Min/max of every `per_peak` frames of interleaved 16-bit samples, per channel, fed
    in chunks of any size (a frame may even be split across chunks). Holds at most one
    unfinished bucket besides the result."""

    def __init__(self, channels: int, per_peak: int) -> None:
        if channels < 1 or per_peak < 1:
            raise ValueError("channels and per_peak must be at least 1")
        self.channels_count = channels
        self.per_peak = per_peak
        self._out: list[list[float]] = [[] for _ in range(channels)]
        self._pending = array("h")
        self._odd = b""  # half a sample left from the previous chunk

    def feed(self, pcm: bytes) -> None:
        """Take raw s16le PCM, `channels` interleaved."""
        data = self._odd + pcm
        whole = len(data) - len(data) % 2
        self._odd = data[whole:]
        samples = array("h")
        samples.frombytes(data[:whole])
        if sys.byteorder == "big":
            samples.byteswap()
        self.feed_samples(samples)

    def feed_samples(self, samples: Sequence[int]) -> None:
        pending = self._pending
        pending.extend(samples)
        step = self.channels_count * self.per_peak
        full = len(pending) // step
        for b in range(full):
            self._bucket(pending, b * step, (b + 1) * step)
        del pending[: full * step]

    def _bucket(self, samples: array[int], start: int, end: int) -> None:
        for c in range(self.channels_count):
            part = samples[start + c : end : self.channels_count]
            if part:
                self._out[c] += (_level(min(part)), _level(max(part)))

    def finish(self) -> list[list[float]]:
        """The peaks, the last (shorter) bucket included; a half frame at the end is
        dropped."""
        pending = self._pending
        usable = len(pending) - len(pending) % self.channels_count
        if usable:
            self._bucket(pending, 0, usable)
        self._pending = array("h")
        return self._out


def bucket_peaks(samples: Sequence[int], channels: int, per_peak: int) -> list[list[float]]:
    """Interleaved samples -> per channel [min, max, min, max, …] in -1..1."""
    b = PeakBuckets(channels, per_peak)
    b.feed_samples(samples)
    return b.finish()


def channel_names(recording: Recording, channels: int) -> tuple[str, ...]:
    if recording.layout is Layout.STEREO and channels == 2:
        return ("customer", "agent")
    if channels == 1:
        return ("mixed",)
    return tuple(f"channel-{i + 1}" for i in range(channels))


# --- files -----------------------------------------------------------------------------------


def peaks_path(archived: Path) -> Path:
    """Where the peaks of an archived file are kept: beside it."""
    return archived.with_name(archived.name + SUFFIX)


def _archived(root: Path, recording: Recording) -> Path:
    if recording.status is not Status.ARCHIVED or not recording.path:
        raise Conflict(
            f"录音 {recording.id} 尚未归档，暂无波形 (recording {recording.id} is "
            f"{recording.status.value}: peaks are made once it is archived)",
            error_id=f"recording_{recording.status.value}",
        )
    try:
        return inside(root, recording.path)
    except InvalidInput:
        raise Conflict(
            f"录音 {recording.id} 的存储路径不在归档目录内，已拒绝 (the stored path of "
            f"recording {recording.id} is not inside the archive root; an admin must check it)",
            error_id="archive_path_refused",
        ) from None


async def compute(recording: Recording, src: Path) -> Peaks:
    """Decode `src` as a stream and bucket it: memory stays bounded by one chunk."""
    channels = recording.channels or 0
    duration = recording.duration_s or 0.0
    if channels < 1 or duration <= 0:
        info = await audio.probe(src)
        channels, duration = info.channels, info.duration_s
    channels = min(channels, 2)
    per_peak = samples_per_peak(duration)
    buckets = PeakBuckets(channels, per_peak)
    frames = 0
    async for chunk in audio.stream_pcm(src, rate=DECODE_RATE, channels=channels):
        buckets.feed(chunk)
        frames += len(chunk) // (2 * channels)
    values = buckets.finish()
    if frames:
        duration = frames / DECODE_RATE  # what was decoded is what the player plays
    return Peaks(
        duration=round(duration, 3),
        sample_rate=DECODE_RATE,
        samples_per_peak=per_peak,
        names=channel_names(recording, channels),
        channels=tuple(tuple(c) for c in values),
    )


async def ensure_peaks(root: Path, recording: Recording) -> Path:
    """The peaks file of an archived recording, made now if it is not there yet (once,
    however many ask at the same time). `Conflict` when the recording is not archived,
    `audio.AudioError` when its file cannot be decoded."""
    src = _archived(root, recording)
    dest = peaks_path(src)
    if dest.is_file():
        return dest
    lock = _making.setdefault(dest, asyncio.Lock())
    async with lock:
        if dest.is_file():
            return dest
        if not src.is_file():
            raise audio.AudioError(
                f"归档文件不存在，请联系管理员 (the archived file of recording {recording.id} "
                "is missing; the archive storage may not be mounted: tell an admin)",
                transient=True,
            )
        peaks = await compute(recording, src)
        body = json.dumps(peaks.to_json(), separators=(",", ":")).encode()
        tmp = dest.with_name(f".{dest.name}.{uuid4().hex}.part")
        try:
            await asyncio.to_thread(tmp.write_bytes, body)
            tmp.replace(dest)  # whole or not at all
        finally:
            tmp.unlink(missing_ok=True)
        log.info(
            "recording %s: %d peaks per channel in %s",
            recording.id,
            len(peaks.channels[0]) // 2,
            dest.name,
        )
    return dest


async def ensure_peaks_after_archive(root: Path, recording: Recording) -> None:
    """The archive stage's call: make the peaks now; a failure is logged, never fails the
    archive (the peaks endpoint tries again when someone opens the call)."""
    try:
        await ensure_peaks(root, recording)
    except (audio.AudioError, Conflict, OSError) as exc:
        log.warning("recording %s: peaks not made now (made on first view): %s", recording.id, exc)


def load(path: Path) -> Peaks:
    return Peaks.from_json(json.loads(path.read_text(encoding="utf-8")))


def remove(archived: Path) -> None:
    """Delete the peaks of an archived file (retention purges them with it)."""
    with contextlib.suppress(FileNotFoundError):
        peaks_path(archived).unlink()
