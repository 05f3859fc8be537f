"""What the routes share: local times, the range of a search, an agent's own scope, report
downloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Query
from fastapi.responses import Response

from hotline.api.limits import Since, Until
from hotline.api.users import User
from hotline.core.errors import InvalidInput
from hotline.core.periods import check_year
from hotline.core.roles import Role
from hotline.recording.store import Recording, RecordingStore

__all__ = [
    "XLSX",
    "PageCursor",
    "Since",
    "Until",
    "attachment",
    "download",
    "local",
    "may_see",
    "own_scope",
    "time_range",
]
PageCursor = Annotated[
    str | None,
    Query(
        max_length=400,
        description="the previous page's next_cursor: the page after it, fast at any depth",
    ),
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(ascii_name: str, name: str) -> dict[str, str]:
    """The header of an attachment named in Chinese (RFC 5987) with an ASCII fallback."""
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    return {"Content-Disposition": disposition}


def download(body: bytes, media_type: str, ascii_name: str, name: str) -> Response:
    """An attachment named in Chinese (RFC 5987) with an ASCII fallback for old clients."""
    return Response(body, media_type=media_type, headers=attachment(ascii_name, name))


def local(timezone: str, value: datetime | None) -> datetime | None:
    """Times without a zone are the hotline's local time (settings.timezone)."""
    if value is not None:
        check_year(value)
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(timezone))


def time_range(
    timezone: str, since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    since, until = local(timezone, since), local(timezone, until)
    if since and until and since >= until:
        raise InvalidInput(
            f"开始时间须早于结束时间 (since ({since}) must be before until ({until}))"
        )
    return since, until


def own_scope(user: User) -> str | None:
    """None for inspectors and up; an agent sees only what they answered."""
    if user.at_least(Role.INSPECTOR):
        return None
    return user.agent or "\x00no-agent"


async def may_see(recordings: RecordingStore, user: User, recording: Recording) -> bool:
    if user.at_least(Role.INSPECTOR):
        return True
    return user.agent is not None and await recordings.belongs_to(recording, user.agent)
