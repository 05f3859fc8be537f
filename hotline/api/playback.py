"""Playing a recording over HTTP: Range, download names, and the audit of who listened.

Rule: every response that sends audio to someone writes an audit entry first, and only
then (a request refused with 416 or 400, or a HEAD, sends none and is not counted). The
JSON API and the web workspace's player both answer with `audio_response`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import FileResponse
from starlette.types import Message, Receive, Scope, Send

from hotline.recording import playback
from hotline.recording.playback import Format
from hotline.recording.store import Recording, RecordingStore

OnStart = Callable[[int, str | None], Awaitable[None]]


class AuditedFileResponse(FileResponse):
    """Starlette's FileResponse (Range, 206, 416, HEAD) that calls `on_start` just before
    it starts sending audio (status 200 or 206), so a request refused with 416 or 400 is
    not counted as a playback and no audio leaves without its audit entry."""

    def __init__(
        self,
        path: Path,
        *,
        on_start: OnStart | None,
        media_type: str,
        headers: dict[str, str],
        stat_result: os.stat_result,
    ) -> None:
        super().__init__(path, media_type=media_type, headers=headers, stat_result=stat_result)
        self._on_start = on_start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        on_start = self._on_start

        async def audited(message: Message) -> None:
            if (
                on_start is not None
                and message["type"] == "http.response.start"
                and message["status"] in (200, 206)
            ):
                ranges = [v for k, v in message["headers"] if k.lower() == b"content-range"]
                await on_start(message["status"], ranges[0].decode() if ranges else None)
            await send(message)

        await super().__call__(scope, receive, audited)


def disposition(r: Recording, suffix: str, timezone: str) -> str:
    """attachment with an ASCII name and the Chinese one as RFC 5987 `filename*`."""
    stem = playback.download_stem(r, suffix, timezone)
    return (
        f'attachment; filename="recording-{stem}"; '
        f"filename*=UTF-8''{quote(f'通话录音-{stem}', safe='')}"
    )


async def audio_response(
    request: Request,
    r: Recording,
    *,
    actor: str,
    store: RecordingStore,
    root: Path,
    timezone: str,
    fmt: Format = "archived",
    download: bool = False,
) -> AuditedFileResponse:
    """The audio of `r` (which `actor` may hear: the caller checked), with HTTP Range;
    a GET that sends audio is audited as `play`, or `download` as an attachment."""
    path = await playback.playable(root, r, fmt)
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if download:
        headers["Content-Disposition"] = disposition(r, path.suffix, timezone)
    action = "download" if download else "play"
    remote = request.client.host if request.client else None
    asked = request.headers.get("range", "")[:200]

    async def audit(status: int, content_range: str | None) -> None:
        # 206 carries one Content-Range, or several ranges in a multipart body
        sent = (content_range or f"{asked} (multipart)") if status == 206 else "whole file"
        await store.audit(
            actor=actor,
            action=action,
            recording_id=r.id,
            at=datetime.now(UTC),
            remote=remote,
            detail=f"format={path.suffix.lstrip('.')}; range={sent}",
        )

    return AuditedFileResponse(
        path,
        on_start=None if request.method == "HEAD" else audit,
        media_type=playback.media_type(path),
        headers=headers,
        stat_result=path.stat(),
    )
