"""Test audio made on the spot: espeak-ng speech and sox, 8 kHz mono 16-bit WAV like the
switch writes, two legs per call plus their mix, and the broken files a spool can hold.

The customer speaks first (agent silent), then the agent (customer silent), so a test can
tell the channels apart by where the sound is.
"""

from __future__ import annotations

import array
import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.bus import Bus, Message
from hotline.core.jobs import JobQueue
from hotline.core.leader import instance_name
from hotline.recording.archiver import PARTIAL_DIR, ArchiveService
from hotline.recording.policy import RetentionPolicy
from hotline.recording.stage import ArchiveStage
from hotline.recording.store import RecordingStore

CUSTOMER_TEXT = "你好，我家的燃气表坏了，请派人来修一下。My gas meter is broken."
AGENT_TEXT = "您好！我是客服中心一零零一号客服代表，请问有什么可以帮到您？再见。"


def run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def speech(dest: Path, text: str, voice: str = "cmn", speed: int = 170) -> Path:
    raw = dest.with_suffix(".raw.wav")
    run("espeak-ng", "-v", voice, "-s", str(speed), "-w", raw, text)
    run("sox", raw, "-r", "8000", "-c", "1", "-b", "16", dest, "norm", "-3")
    raw.unlink()
    return dest


def silence(dest: Path, seconds: float) -> Path:
    run("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", dest, "trim", "0", f"{seconds:.3f}")
    return dest


def tone(dest: Path, freq: float, seconds: float) -> Path:
    run(
        "sox",
        "-n",
        "-r",
        "8000",
        "-c",
        "1",
        "-b",
        "16",
        dest,
        "synth",
        f"{seconds}",
        "sine",
        f"{freq}",
        "vol",
        "0.5",
    )
    return dest


def concat(dest: Path, *parts: Path) -> Path:
    run("sox", *parts, dest)
    return dest


def duration(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


@dataclass(frozen=True, slots=True)
class CallAudio:
    mixed: Path  # <stem>.wav
    customer: Path  # <stem>-in.wav
    agent: Path  # <stem>-out.wav
    customer_s: float  # the customer talks in [0, customer_s)
    agent_s: float  # then the agent, in [customer_s, customer_s + agent_s)


class AudioKit:
    """Speech generated once per test session, copied into each test's spool."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)
        self.customer = speech(cache / "customer.wav", CUSTOMER_TEXT)
        self.agent = speech(cache / "agent.wav", AGENT_TEXT)
        self.customer_s = duration(self.customer)
        self.agent_s = duration(self.agent)
        # customer leg: speech, then silence while the agent talks; agent leg the other way
        self.leg_in = concat(
            cache / "leg-in.wav", self.customer, silence(cache / "s_a.wav", self.agent_s)
        )
        self.leg_out = concat(
            cache / "leg-out.wav", silence(cache / "s_c.wav", self.customer_s), self.agent
        )
        self.mix = cache / "mix.wav"
        run("sox", "-m", self.leg_in, self.leg_out, self.mix)

    def call(self, spool: Path, stem: str, *, legs: bool = True, mixed: bool = True) -> CallAudio:
        """The files MixMonitor leaves for one call: `<stem>.wav`, `-in.wav`, `-out.wav`."""
        spool.mkdir(parents=True, exist_ok=True)
        files = CallAudio(
            spool / f"{stem}.wav",
            spool / f"{stem}-in.wav",
            spool / f"{stem}-out.wav",
            self.customer_s,
            self.agent_s,
        )
        if mixed:
            shutil.copy(self.mix, files.mixed)
        if legs:
            shutil.copy(self.leg_in, files.customer)
            shutil.copy(self.leg_out, files.agent)
        return files


# --- broken files ----------------------------------------------------------------------------


def zero_length(dest: Path) -> Path:
    dest.write_bytes(b"")
    return dest


def truncated(src: Path, dest: Path, keep: float = 0.4) -> Path:
    """A WAV cut off part-way: the header still promises all the audio."""
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest


def random_bytes(dest: Path, size: int = 40_000) -> Path:
    dest.write_bytes(os.urandom(size))
    return dest


def text_file(dest: Path) -> Path:
    dest.write_text("这不是录音。This is not a recording.\n" * 50, encoding="utf-8")
    return dest


# --- looking at the result -------------------------------------------------------------------


def channel_rms(wav_path: Path, start_s: float, end_s: float) -> list[float]:
    """RMS (0..1) of each channel of a 16-bit WAV between two times."""
    with wave.open(str(wav_path)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        assert w.getsampwidth() == 2
        w.setpos(int(start_s * rate))
        frames = w.readframes(int((end_s - start_s) * rate))
    samples = array.array("h", frames)
    result = []
    for ch in range(channels):
        values = samples[ch::channels]
        mean_sq = sum(v * v for v in values) / max(1, len(values))
        result.append(mean_sq**0.5 / 32768)
    return result


_KITS: dict[Path, AudioKit] = {}


def session_kit(base: Path) -> AudioKit:
    """One AudioKit per session base folder (espeak-ng runs once)."""
    if base not in _KITS:
        _KITS[base] = AudioKit(base / "audio-kit")
    return _KITS[base]


# --- an archiver on the test database --------------------------------------------------------

SWITCH_SPOOL = "/var/spool/asterisk/monitor"


@dataclass
class Harness:
    service: ArchiveService
    store: RecordingStore
    root: Path
    spool: Path
    messages: list[Message]

    def topics(self) -> list[str]:
        return [m.topic for m in self.messages]

    def archived_files(self) -> list[Path]:
        """Files under the archive root outside `.partial`: what counts as archived."""
        return sorted(p for p in self.root.rglob("*") if p.is_file() and PARTIAL_DIR not in p.parts)


def harness(engine: AsyncEngine, tmp_path: Path, **overrides: Any) -> Harness:
    store = RecordingStore(db.session_factory(engine))
    bus = Bus()
    messages: list[Message] = []

    async def keep(m: Message) -> None:
        messages.append(m)

    bus.subscribe("", keep)
    root, spool = tmp_path / "archive", tmp_path / "spool"
    options: dict[str, Any] = dict(
        instance=instance_name(),
        root=root,
        path_map={SWITCH_SPOOL: str(spool)},
        codec="opus",
        bitrate_kbps=16,
        workers=2,
        settle_s=0.0,
        wait_for_file_s=5.0,
        delete_source=False,
        max_attempts=3,
        retention=RetentionPolicy(),
        timezone="Asia/Shanghai",
    )
    options.update(overrides)
    return Harness(ArchiveService(store, bus, **options), store, root, spool, messages)


def stage(h: Harness, jobs: JobQueue) -> ArchiveStage:
    """The archive stage over this harness's archiver."""
    return ArchiveStage(h.store, h.service, jobs)
