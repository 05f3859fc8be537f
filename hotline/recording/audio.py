"""ffmpeg and ffprobe, the only place that runs them. Rule: every failure of theirs comes
out as an `AudioError` a person understands (Chinese first), marked transient or not;
no shell, arguments as a list.

Opus is stored in Ogg. A two-party recording is written with channel mapping family 255
(two independent mono streams): coupled Opus stereo at telephony bitrates folds the
channels together, which would undo keeping customer (left) and agent (right) apart.
"""

from __future__ import annotations

import asyncio
import errno
import json
import struct
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.core.errors import HotlineError

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
TIMEOUT_S = 1800.0
_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.ENOMEM, errno.EMFILE, errno.ENFILE, errno.EINTR}
# codec setting -> (encoder arguments, muxer)
_CODECS: dict[str, tuple[list[str], str]] = {
    "opus": (["-c:a", "libopus", "-application", "voip"], "ogg"),
    "mp3": (["-c:a", "libmp3lame"], "mp3"),
    "flac": (["-c:a", "flac"], "flac"),
    "wav": (["-c:a", "pcm_s16le"], "wav"),
}
_LOSSY = {"opus", "mp3"}


class AudioError(HotlineError):
    """Audio that cannot be read or written. `transient`: trying again later may work."""

    error_id = "audio_error"

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class DiskFull(AudioError):
    error_id = "disk_full"

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


@dataclass(frozen=True, slots=True)
class AudioInfo:
    duration_s: float
    sample_rate: int  # the recording's own rate (for Opus: the rate it was encoded from)
    channels: int
    codec: str
    format_name: str


# --- running the tools -----------------------------------------------------------------------


async def _start(args: Sequence[str]) -> asyncio.subprocess.Process:
    """Start a tool with its output piped; its failures to start become our errors."""
    try:
        return await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise AudioError(
            f"找不到 {args[0]} (program not installed: run `make system-deps`)"
        ) from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"磁盘已满 (disk full: {exc.strerror})") from exc
        raise AudioError(
            f"无法启动 {args[0]} (could not start it: {exc.strerror})",
            transient=exc.errno in _TRANSIENT_ERRNOS,
        ) from exc


async def _run(args: Sequence[str], timeout_s: float = TIMEOUT_S) -> tuple[int, str, str]:
    proc = await _start(args)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError as exc:
        await _kill(proc)
        raise AudioError(
            f"{args[0]} 超时 (timed out after {timeout_s:.0f} s)", transient=True
        ) from exc
    except BaseException:  # our task was cancelled: never leave the process behind
        await _kill(proc)
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    # asyncio's wait() returns only once every pipe is closed: output nobody read (a reader
    # that stopped early leaves the pipe paused) is drained, or wait() never returns
    if proc.stdout is not None and not proc.stdout.at_eof():
        await proc.stdout.read()
    await proc.wait()


def _last_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no message"


def _tool_failure(rc: int, stderr: str, what: str, path: Path) -> AudioError:
    if "No space left on device" in stderr:
        return DiskFull(f"磁盘已满，无法写入 (disk full while writing {path.name})")
    if rc < 0:
        return AudioError(f"{what}进程被中断 (killed by signal {-rc})", transient=True)
    if "Invalid data found" in stderr or "could not find codec" in stderr.lower():
        return AudioError(f"不是音频文件 (not an audio file: {path.name})")
    return AudioError(f"{what}失败 ({_last_line(stderr)})", transient=True)


# --- probing ---------------------------------------------------------------------------------


def _corrupt(path: Path, detail: str) -> AudioError:
    return AudioError(f"录音文件已损坏或不完整 (truncated/corrupt: {path.name}: {detail})")


def _wav_header(path: Path, size: int) -> AudioInfo | None:
    """A RIFF/WAVE file read from its header; checks the data is all there. None when the
    file is no WAV, or a WAV that is not plain PCM (ffprobe reads those)."""
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            if head[:4] == b"RIFF":
                raise _corrupt(path, "RIFF header cut short")
            return None
        fmt: tuple[int, int, int, int] | None = None
        pos = 12
        while True:
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8:
                raise _corrupt(path, "no audio data chunk")
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                body = f.read(min(csize, 40))
                if len(body) < 16:
                    raise _corrupt(path, "format chunk cut short")
                tag, channels, rate, _, align = struct.unpack("<HHIIH", body[:14])
                if tag == 0xFFFE and len(body) >= 26:
                    tag = struct.unpack("<H", body[24:26])[0]
                fmt = (tag, channels, rate, align)
            elif cid == b"data":
                break
            pos += 8 + csize + (csize & 1)
        if fmt is None:
            raise _corrupt(path, "no format chunk before the data")
        present = size - pos - 8
        declared = present if csize in (0, 0xFFFFFFFF) else csize  # unfinished header: to EOF
        tag, channels, rate, align = fmt
        if declared > present:
            raise _corrupt(path, f"header promises {declared} bytes of audio, {present} present")
        if tag != 1:
            return None
        if not channels or not rate or not align:
            raise _corrupt(path, "impossible format values")
        return AudioInfo(declared / align / rate, rate, channels, "pcm_s16le", "wav")


def _opus_input_rate(path: Path) -> int | None:
    with path.open("rb") as f:
        head = f.read(256)
    at = head.find(b"OpusHead")
    if at < 0 or len(head) < at + 16:
        return None
    rate: int = struct.unpack("<I", head[at + 12 : at + 16])[0]
    return rate or None


async def probe(path: Path) -> AudioInfo:
    """Duration, rate, channels and codec of an audio file; `AudioError` when it is empty,
    not audio, or damaged."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise AudioError(f"录音文件不存在 (file not found: {path})") from exc
    if size == 0:
        raise AudioError(f"录音文件为空 (zero-length file: {path.name})")
    info = await asyncio.to_thread(_wav_header, path, size)
    if info is None:
        info = await _ffprobe(path)
    if info.duration_s <= 0:
        raise AudioError(f"录音文件没有声音数据 (no audio in the file: {path.name})")
    return info


async def _ffprobe(path: Path) -> AudioInfo:
    rc, out, err = await _run(
        [
            FFPROBE,
            "-v",
            "error",
            "-show_entries",
            "format=format_name,duration,probe_score:stream=codec_type,codec_name,"
            "sample_rate,channels",
            "-of",
            "json",
            str(path),
        ],
        timeout_s=120,
    )
    if rc != 0:
        raise _tool_failure(rc, err, "读取音频", path)
    data: dict[str, Any] = json.loads(out or "{}")
    fmt = data.get("format", {})
    audio = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio or int(fmt.get("probe_score", 100)) < 25:
        raise AudioError(f"不是音频文件 (not an audio file: {path.name})")
    stream = audio[0]
    try:
        duration = float(fmt.get("duration") or 0.0)
        rate = int(stream.get("sample_rate") or 0)
        channels = int(stream.get("channels") or 0)
    except ValueError as exc:
        raise _corrupt(path, "unreadable stream values") from exc
    if not rate or not channels:
        raise _corrupt(path, "no sample rate or channels")
    codec = str(stream.get("codec_name", "unknown"))
    if codec == "opus":
        rate = _opus_input_rate(path) or rate  # one small read
    return AudioInfo(duration, rate, channels, codec, str(fmt.get("format_name", "")))


# --- writing ---------------------------------------------------------------------------------


def _check_dest(dest: Path) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"磁盘已满 (disk full: cannot create {dest.parent})") from exc
        raise


def transcode_args(
    sources: Mapping[str, Path], dest: Path, *, codec: str, bitrate_kbps: int
) -> list[str]:
    """The ffmpeg command line of `transcode` (the benchmark runs it bare)."""
    if codec not in _CODECS:
        raise AudioError(f"不支持的编码 (unknown codec {codec!r}; use one of {sorted(_CODECS)})")
    encoder, muxer = _CODECS[codec]
    args = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if set(sources) == {"customer", "agent"}:
        args += ["-i", str(sources["customer"]), "-i", str(sources["agent"])]
        args += [
            "-filter_complex",
            "[0:a]aformat=channel_layouts=mono,pan=stereo|c0=c0[l];"
            "[1:a]aformat=channel_layouts=mono,pan=stereo|c1=c0[r];"
            "[l][r]amix=inputs=2:duration=longest:normalize=0[a]",
            "-map",
            "[a]",
        ]
        stereo = True
    elif set(sources) == {"mixed"}:
        args += ["-i", str(sources["mixed"]), "-map", "0:a:0", "-ac", "1"]
        stereo = False
    else:
        raise ValueError(f"sources must be customer+agent or mixed, not {sorted(sources)}")
    args += encoder
    if codec in _LOSSY:
        args += ["-b:a", f"{bitrate_kbps}k"]
    if codec == "opus" and stereo:
        args += ["-mapping_family", "255"]
    # bitexact: the same input gives the same bytes (and hash), e.g. when redone after a crash
    args += ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]
    return [*args, "-f", muxer, str(dest)]


async def transcode(
    sources: Mapping[str, Path], dest: Path, *, codec: str, bitrate_kbps: int
) -> None:
    """Write `dest` in `codec`: {"customer", "agent"} -> stereo, customer LEFT and agent
    RIGHT, as long as the longer leg; {"mixed"} -> mono. The source rate is kept (Opus
    encodes 8 kHz natively). The muxer is named, so `dest` may have any suffix."""
    args = transcode_args(sources, dest, codec=codec, bitrate_kbps=bitrate_kbps)
    _check_dest(dest)
    rc, _, err = await _run(args)
    if rc != 0:
        raise _tool_failure(rc, err, "转码", dest)


async def to_wav(src: Path, dest: Path) -> None:
    """16-bit PCM WAV of `src` at the recording's own rate (Opus: its encoding rate), for
    players and tools that want WAV."""
    info = await probe(src)
    _check_dest(dest)
    args = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src)]
    args += ["-map", "0:a:0", "-c:a", "pcm_s16le", "-ar", str(info.sample_rate), "-f", "wav"]
    rc, _, err = await _run([*args, str(dest)])
    if rc != 0:
        raise _tool_failure(rc, err, "转换为 WAV ", dest)


# --- reading ---------------------------------------------------------------------------------

PCM_CHUNK = 64 * 1024


async def stream_pcm(
    src: Path, *, rate: int, channels: int, chunk_bytes: int = PCM_CHUNK
) -> AsyncGenerator[bytes, None]:
    """The decoded audio of `src` as raw 16-bit little-endian PCM at `rate`, `channels`
    interleaved (left = customer first), in chunks of at most `chunk_bytes` (a whole number
    of frames), as ffmpeg decodes it: memory stays bounded whatever the length. Stopping
    early (or being cancelled) ends the process."""
    if not src.is_file():
        raise AudioError(f"录音文件不存在 (file not found: {src})")
    args = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(src)]
    args += ["-map", "0:a:0", "-vn", "-f", "s16le", "-acodec", "pcm_s16le"]
    args += ["-ar", str(rate), "-ac", str(channels), "pipe:1"]
    proc = await _start(args)
    assert proc.stdout is not None and proc.stderr is not None
    stderr_task = asyncio.ensure_future(proc.stderr.read())
    frame = 2 * channels
    size = max(frame, chunk_bytes - chunk_bytes % frame)
    rest = b""
    try:
        while True:
            data = await proc.stdout.read(size)
            if not data:
                break
            data = rest + data
            cut = len(data) - len(data) % frame
            rest = data[cut:]
            if cut:
                yield data[:cut]
        rc = await proc.wait()
        err = (await stderr_task).decode(errors="replace")
        if rc != 0:
            raise _tool_failure(rc, err, "解码", src)
    finally:
        await _kill(proc)
        stderr_task.cancel()
