"""audio.py against the real ffmpeg/ffprobe: probing, stereo layout, size, broken input."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.recording import audio
from hotline.recording.audio import AudioError, DiskFull
from tests.recording import audio_fixtures as af


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> af.AudioKit:
    return af.session_kit(tmp_path_factory.getbasetemp())


async def test_probe_reads_a_switch_wav(kit: af.AudioKit) -> None:
    info = await audio.probe(kit.leg_in)
    assert (info.sample_rate, info.channels, info.format_name) == (8000, 1, "wav")
    assert info.duration_s == pytest.approx(kit.customer_s + kit.agent_s, abs=0.01)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d, k: af.zero_length(d / "empty.wav"), "录音文件为空"),
        (lambda d, k: af.truncated(k.leg_in, d / "cut.wav"), "录音文件已损坏或不完整"),
        (lambda d, k: af.truncated(k.leg_in, d / "head.wav", keep=0.0005), "已损坏或不完整"),
        (lambda d, k: af.random_bytes(d / "noise.wav"), "不是音频文件"),
        (lambda d, k: af.text_file(d / "notes.wav"), "不是音频文件"),
        (lambda d, k: d / "absent.wav", "录音文件不存在"),
    ],
    ids=["zero-length", "truncated", "cut-in-header", "random-bytes", "text", "missing"],
)
async def test_broken_input_is_named_for_people(
    tmp_path: Path, kit: af.AudioKit, make: object, words: str
) -> None:
    path = make(tmp_path, kit)  # type: ignore[operator]
    with pytest.raises(AudioError) as err:
        await audio.probe(path)
    assert words in err.value.message
    assert not err.value.transient
    assert path.name in err.value.message  # says which file


async def test_stereo_has_customer_left_agent_right(tmp_path: Path, kit: af.AudioKit) -> None:
    out = tmp_path / "call.ogg.partial"  # any suffix: the muxer is named
    await audio.transcode(
        {"customer": kit.leg_in, "agent": kit.leg_out}, out, codec="opus", bitrate_kbps=16
    )
    info = await audio.probe(out)
    assert (info.codec, info.format_name, info.channels, info.sample_rate) == (
        "opus",
        "ogg",
        2,
        8000,
    )
    assert info.duration_s == pytest.approx(kit.customer_s + kit.agent_s, abs=0.1)

    wav = tmp_path / "call.wav"
    await audio.to_wav(out, wav)
    c, a = kit.customer_s, kit.agent_s
    left_c, right_c = af.channel_rms(wav, 0.2, c - 0.2)  # the customer talks
    left_a, right_a = af.channel_rms(wav, c + 0.2, c + a - 0.2)  # the agent talks
    assert left_c > 0.03 and right_c < left_c / 20, (left_c, right_c)
    assert right_a > 0.03 and left_a < right_a / 20, (left_a, right_a)

    original = kit.leg_in.stat().st_size + kit.leg_out.stat().st_size
    assert out.stat().st_size <= original / 8


async def test_mixed_is_mono_and_small(tmp_path: Path, kit: af.AudioKit) -> None:
    out = tmp_path / "mix.ogg"
    await audio.transcode({"mixed": kit.mix}, out, codec="opus", bitrate_kbps=16)
    info = await audio.probe(out)
    assert (info.channels, info.sample_rate) == (1, 8000)
    assert info.duration_s == pytest.approx(af.duration(kit.mix), abs=0.1)
    assert out.stat().st_size <= kit.mix.stat().st_size / 8


async def test_stereo_lasts_as_long_as_the_longer_leg(tmp_path: Path, kit: af.AudioKit) -> None:
    short = af.tone(tmp_path / "short.wav", 440, 1.0)
    out = tmp_path / "uneven.ogg"
    await audio.transcode(
        {"customer": short, "agent": kit.agent}, out, codec="opus", bitrate_kbps=16
    )
    assert (await audio.probe(out)).duration_s == pytest.approx(kit.agent_s, abs=0.1)


async def test_same_input_same_bytes(tmp_path: Path, kit: af.AudioKit) -> None:
    """A recording redone after a crash gets the same hash, hence the same archive path."""
    legs = {"customer": kit.leg_in, "agent": kit.leg_out}
    await audio.transcode(legs, tmp_path / "a", codec="opus", bitrate_kbps=16)
    await audio.transcode(legs, tmp_path / "b", codec="opus", bitrate_kbps=16)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


@pytest.mark.parametrize("codec", ["mp3", "flac", "wav"])
async def test_other_codecs(tmp_path: Path, kit: af.AudioKit, codec: str) -> None:
    out = tmp_path / f"x.{codec}"
    await audio.transcode(
        {"customer": kit.leg_in, "agent": kit.leg_out}, out, codec=codec, bitrate_kbps=32
    )
    info = await audio.probe(out)
    assert info.channels == 2
    assert info.duration_s == pytest.approx(kit.customer_s + kit.agent_s, abs=0.5)  # mp3 pads


async def test_to_wav_is_16_bit_pcm_at_the_recording_rate(tmp_path: Path, kit: af.AudioKit) -> None:
    ogg = tmp_path / "m.ogg"
    await audio.transcode({"mixed": kit.mix}, ogg, codec="opus", bitrate_kbps=16)
    wav = tmp_path / "m.wav"
    await audio.to_wav(ogg, wav)
    info = await audio.probe(wav)
    assert (info.codec, info.sample_rate, info.channels) == ("pcm_s16le", 8000, 1)


async def test_missing_ffmpeg_says_how_to_install(
    tmp_path: Path, kit: af.AudioKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audio, "FFMPEG", "ffmpeg-that-is-not-installed")
    with pytest.raises(AudioError, match="make system-deps"):
        await audio.transcode({"mixed": kit.mix}, tmp_path / "x.ogg", codec="opus", bitrate_kbps=16)


def _children() -> list[int]:
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == me:
                found.append(int(entry.name))
    return found


async def test_cancelling_kills_ffmpeg(tmp_path: Path, kit: af.AudioKit) -> None:
    long = af.concat(tmp_path / "long.wav", *([kit.mix] * 60))
    task = asyncio.create_task(
        audio.transcode({"mixed": long}, tmp_path / "x.ogg", codec="flac", bitrate_kbps=16)
    )
    await asyncio.sleep(0.15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _children() == []


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (mounting needs root, which the test machines have)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root: run the suite as root, as CI does")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_full_disk_is_disk_full(tiny_disk: Path, kit: af.AudioKit) -> None:
    big = tiny_disk.parent / "big.wav"
    af.concat(big, *([kit.mix] * 20))
    with pytest.raises(DiskFull) as err:
        await audio.transcode({"mixed": big}, tiny_disk / "x.wav", codec="wav", bitrate_kbps=16)
    assert "磁盘已满" in err.value.message and err.value.transient
