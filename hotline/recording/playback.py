"""The file to play of a recording, as archived or as WAV. Rule: a file is only ever found
from its recording's row, through `inside()` the archive root (callers hold ids, never
paths), and a WAV is made once per archived file, whole or not at all.

HTTP (Range, the audit of who listened) is api/playback.py's; this module knows no HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from pathlib import Path
from typing import Literal
from uuid import uuid4
from zoneinfo import ZoneInfo

from hotline.core.errors import Conflict, InvalidInput, Unavailable
from hotline.recording import audio, retention
from hotline.recording.policy import inside
from hotline.recording.store import Recording, Status

log = logging.getLogger(__name__)

Format = Literal["archived", "wav"]
MEDIA_TYPES = {
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
}
_converting: weakref.WeakValueDictionary[Path, asyncio.Lock] = weakref.WeakValueDictionary()


def media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix, "application/octet-stream")


def archived_file(root: Path, r: Recording) -> Path:
    """The archived file of `r`, or an error a person understands."""
    if r.status is Status.PENDING:
        raise Conflict(
            f"录音尚未归档，请稍后再试 (recording {r.id} is not archived yet: the switch may "
            "still be writing it or it waits for transcoding; try again in a minute)",
            error_id="recording_pending",
        )
    if r.status is Status.FAILED:
        raise Conflict(
            f"录音归档失败：{r.reason or '原因未知'}；主管可以重试 (archiving recording {r.id} "
            f"failed: {r.reason or 'no reason recorded'}; a supervisor can retry it with "
            f"POST /api/recordings/{r.id}/retry)",
            error_id="recording_failed",
        )
    if r.status is Status.PURGED:
        raise Conflict(
            f"录音已按保存期限清除 (recording {r.id} was purged by retention; "
            "the audit log says when and why)",
            error_id="recording_purged",
        )
    try:
        full = inside(root, r.path or "")
    except InvalidInput:
        log.error("recording %s: stored path %r is not inside the archive; refused", r.id, r.path)
        raise Conflict(
            f"录音 {r.id} 的存储路径不在归档目录内，已拒绝 (the stored path of recording {r.id} "
            "is not inside the archive root; refused. An admin must check this row)",
            error_id="archive_path_refused",
        ) from None
    if not full.is_file():
        log.error("recording %s: archived file %s is missing", r.id, full)
        raise Unavailable(
            f"归档文件不存在，请联系管理员 (the archived file of recording {r.id} is missing; "
            "the archive storage may not be mounted: tell an admin)",
            error_id="archive_file_missing",
        )
    return full


async def wav(root: Path, r: Recording, src: Path) -> Path:
    """A WAV of `src`, made once into the cache under the archive root and reused."""
    dest = retention.wav_cache(root, r)
    lock = _converting.setdefault(dest, asyncio.Lock())
    async with lock:
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.stem}.{uuid4().hex}.part.wav")
        try:
            await audio.to_wav(src, tmp)
            tmp.replace(dest)  # whole or not at all
        except audio.AudioError as exc:
            raise Unavailable(
                f"无法转换为 WAV，可改用原格式 (could not make a WAV of recording {r.id}: "
                f"{exc.message}; play it in the archived format instead)",
                error_id=exc.error_id,
            ) from exc
        finally:
            tmp.unlink(missing_ok=True)
    return dest


async def playable(root: Path, r: Recording, fmt: Format = "archived") -> Path:
    """The file to send for `r` in `fmt`: the archived one, or its WAV (made on demand)."""
    path = archived_file(root, r)
    if fmt == "wav" and path.suffix != ".wav":
        path = await wav(root, r, path)
    return path


def download_stem(r: Recording, suffix: str, timezone: str) -> str:
    """`20240501-093000-13800138000-42.ogg`: local start, caller number, id."""
    local = r.started_at.astimezone(ZoneInfo(timezone))
    number = re.sub(r"[^0-9+]", "", r.caller_number or "") or "unknown"
    return f"{local:%Y%m%d-%H%M%S}-{number}-{r.id}{suffix}"
