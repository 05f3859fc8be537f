"""Recordings as the recognizer wants them: 16 kHz mono 16-bit PCM, one channel at a time.
Rule: ffmpeg/ffprobe run without a shell, arguments as a list, and every failure comes
out as an `AudioDecodeError` that names the file and ffmpeg's reason.

A two-party recording from the archive is stereo (Ogg Opus with channel mapping family
255, or WAV): left is the customer, right the agent. A mono recording is both parties
mixed. The PCM of a whole recording is held in memory (16 kHz: 1.9 MB a minute a channel).
"""

from __future__ import annotations

import array
import json
import subprocess
import sys
from pathlib import Path

from hotline.core.errors import HotlineError

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
SAMPLE_RATE = 16000
TIMEOUT_S = 1800.0
STEREO_CHANNELS = ("customer", "agent")  # left, right
MONO_CHANNEL = "mixed"


class AudioDecodeError(HotlineError):
    """A recording that cannot be decoded. `reason` is what the decoder said."""

    error_id = "audio_decode"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"无法解码录音 (cannot decode recording {path}: {reason}); check that it is a "
            "complete audio file (Ogg Opus or WAV), re-import it from the switch if not"
        )
        self.path = path
        self.reason = reason


def _run(args: list[str], path: Path, timeout_s: float) -> bytes:
    try:
        proc = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False
        )
    except FileNotFoundError as exc:
        raise AudioDecodeError(
            path, f"{args[0]} is not installed (apt-get install ffmpeg)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioDecodeError(path, f"{args[0]} took longer than {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1] if lines else f"exit status {proc.returncode}"
        raise AudioDecodeError(path, f"{args[0]}: {detail}")
    return proc.stdout


def channel_count(path: str | Path, *, timeout_s: float = 60.0) -> int:
    """Channels of the first audio stream."""
    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError(path, "no such file")
    args = [FFPROBE, "-v", "error", "-select_streams", "a:0", "-show_entries",
            "stream=channels", "-of", "json", str(path)]  # fmt: skip
    out = _run(args, path, timeout_s)
    try:
        streams = json.loads(out).get("streams") or []
        count = int(streams[0]["channels"]) if streams else 0
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AudioDecodeError(path, f"unreadable ffprobe output ({exc})") from exc
    if count < 1:
        raise AudioDecodeError(path, "no audio stream")
    return count


def channels(
    path: str | Path, *, sample_rate: int = SAMPLE_RATE, timeout_s: float = TIMEOUT_S
) -> dict[str, bytes]:
    """{"customer": pcm, "agent": pcm} for a stereo recording (left, right), {"mixed": pcm}
    for a mono one; 16-bit mono PCM in native byte order at `sample_rate`."""
    path = Path(path)
    count = channel_count(path)
    if count > 2:
        raise AudioDecodeError(path, f"{count} channels: expected mono (mixed) or stereo")
    args = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path),
            "-map", "0:a:0", "-vn", "-ac", str(count), "-ar", str(sample_rate),
            "-c:a", "pcm_s16le", "-f", "s16le", "pipe:1"]  # fmt: skip
    pcm = _run(args, path, timeout_s)
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % (2 * count)])
    if sys.byteorder == "big":  # pragma: no cover - ffmpeg wrote little-endian
        samples.byteswap()
    if count == 1:
        return {MONO_CHANNEL: samples.tobytes()}
    left, right = STEREO_CHANNELS
    return {left: samples[0::2].tobytes(), right: samples[1::2].tobytes()}
