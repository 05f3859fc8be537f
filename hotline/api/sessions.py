"""Browser sessions on the server. Rule: the cookie holds a random id whose SHA-256 alone is
stored, and a session unused for longer than the idle limit is gone.

Each session carries its own CSRF token, which every state-changing request made with the
session cookie must repeat (form field or header); bearer-token clients never need one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.api.users import User, UserRow, user_of
from hotline.core.db import Base, UtcDateTime

COOKIE = "hotline_session"
TOUCH_EVERY = timedelta(seconds=30)  # last_seen is written at most this often


class WebSessionRow(Base):
    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


@dataclass(frozen=True, slots=True)
class WebSession:
    user: User
    csrf_token: str
    created_at: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a cookie turned out to be: a live session, an expired one, or nothing known."""

    session: WebSession | None
    expired: bool


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], idle: timedelta) -> None:
        self._sessions = sessions
        self.idle = idle

    async def open(self, user: User, now: datetime) -> tuple[str, WebSession]:
        """A new session for `user`: the cookie value (shown once) and the session."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        async with self._sessions() as s, s.begin():
            s.add(
                WebSessionRow(
                    id_sha256=_hash(session_id),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen=now,
                )
            )
        return session_id, WebSession(user, csrf, now, now)

    async def find(self, session_id: str, now: datetime) -> Lookup:
        """The live session of a cookie value, touched; an expired one is deleted."""
        key = _hash(session_id)
        async with self._sessions() as s, s.begin():
            found = (
                await s.execute(
                    select(WebSessionRow, UserRow)
                    .join(UserRow, UserRow.id == WebSessionRow.user_id)
                    .where(WebSessionRow.id_sha256 == key)
                )
            ).first()
            if found is None:
                return Lookup(None, expired=False)
            row, user_row = found
            if now - row.last_seen > self.idle or not user_row.active:
                await s.execute(delete(WebSessionRow).where(WebSessionRow.id == row.id))
                return Lookup(None, expired=True)
            if now - row.last_seen >= TOUCH_EVERY:
                await s.execute(
                    update(WebSessionRow).where(WebSessionRow.id == row.id).values(last_seen=now)
                )
            return Lookup(
                WebSession(user_of(user_row), row.csrf_token, row.created_at, now), expired=False
            )

    async def close(self, session_id: str) -> None:
        async with self._sessions() as s, s.begin():
            await s.execute(
                delete(WebSessionRow).where(WebSessionRow.id_sha256 == _hash(session_id))
            )

    async def close_all(self, user_id: int) -> int:
        async with self._sessions() as s, s.begin():
            result = await s.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user_id))
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def purge_idle(self, now: datetime) -> int:
        async with self._sessions() as s, s.begin():
            result = await s.execute(
                delete(WebSessionRow).where(WebSessionRow.last_seen < now - self.idle)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
