"""Transcripts in the database and their Chinese full-text search. Rule: one row per
(recording, pipeline version); a `done` row is final for its version, so re-running the
stage changes nothing and creates no duplicate.

Search: Chinese has no spaces between words, so words cannot be the tokens. Every
utterance's normalized text, with whitespace removed and case folded (its `compact`
form), is stored for search, and each done transcript's character bigrams go to an index
the database searches (search_index.py: a GIN-indexed text[] on PostgreSQL, FTS5 on
SQLite). A query (normalized the same way: traditional -> simplified, spaces removed)
narrows to the transcripts holding all of its bigrams, then a LIKE on the utterances'
compact text confirms (and drops a transcript holding them only apart or out of order).
A one-character query has no bigram: it is a LIKE over the utterances, newest call first,
so it costs more the rarer the character. Results are the newest calls first, paged by
offset or by a keyset cursor (core/paging.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    delete,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.asr import search_index
from hotline.asr.search_index import SearchRow
from hotline.asr.transcript import Transcript, normalize
from hotline.core import paging
from hotline.core.db import Base, UtcDateTime
from hotline.core.errors import InvalidInput
from hotline.recording.store import RecordingRow
from hotline.telephony.view import owned_by

MAX_QUERY = 100
MAX_MATCHES_PER_CALL = 20


class TranscriptStatus(StrEnum):
    PENDING = "pending"  # queued, or waiting for the recording to be archived
    DONE = "done"  # final for this pipeline version
    FAILED = "failed"  # see `reason`; a person can retry it
    NO_MODEL = "no_model"  # no usable ASR model: waits until one is configured


class TranscriptRow(Base):
    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("recording_id", "pipeline_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    pipeline_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    model_id: Mapped[str | None] = mapped_column(String(255))
    vosk_version: Mapped[str | None] = mapped_column(String(32))
    duration_s: Mapped[float | None] = mapped_column(Float)
    transcript: Mapped[str | None] = mapped_column(Text)  # Transcript.to_json()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class UtteranceRow(Base):
    """One utterance of a done transcript, as search shows it."""

    __tablename__ = "transcript_utterances"
    __table_args__ = (PrimaryKeyConstraint("transcript_id", "utterance_no"),)

    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"))
    utterance_no: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)  # normalized
    compact: Mapped[str] = mapped_column(Text)  # search form: no whitespace, case folded


@dataclass(frozen=True, slots=True)
class TranscriptRecord:
    id: int
    recording_id: int
    call_id: str | None
    pipeline_version: str
    status: TranscriptStatus
    reason: str | None
    model_id: str | None
    vosk_version: str | None
    duration_s: float | None
    transcript: Transcript | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Match:
    utterance_no: int
    channel: str
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A call (its recording) with the utterances that matched, in time order."""

    recording_id: int
    call_id: str | None
    started_at: datetime
    caller_number: str | None
    agent: str | None
    queue: str | None
    matches: tuple[Match, ...]


@dataclass(frozen=True, slots=True)
class SearchPage:
    items: list[SearchHit]
    next_cursor: str | None  # None on the last page


def _record(row: TranscriptRow) -> TranscriptRecord:
    return TranscriptRecord(
        id=row.id,
        recording_id=row.recording_id,
        call_id=row.call_id,
        pipeline_version=row.pipeline_version,
        status=TranscriptStatus(row.status),
        reason=row.reason,
        model_id=row.model_id,
        vosk_version=row.vosk_version,
        duration_s=row.duration_s,
        transcript=Transcript.from_json(row.transcript) if row.transcript else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


_WS = re.compile(r"\s+")


def compact(text: str) -> str:
    """The search form of normalized text: no whitespace, case folded."""
    return _WS.sub("", text).casefold()


def search_key(query: str) -> str:
    """A query as the index holds text: traditional -> simplified, spaces removed."""
    return compact(normalize(query))


class TranscriptStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], pipeline_version: str) -> None:
        self._sessions = sessions
        self.pipeline_version = pipeline_version

    async def get(self, recording_id: int, version: str | None = None) -> TranscriptRecord | None:
        version = version or self.pipeline_version
        async with self._sessions() as session:
            row = await session.scalar(
                select(TranscriptRow).where(
                    TranscriptRow.recording_id == recording_id,
                    TranscriptRow.pipeline_version == version,
                )
            )
            return _record(row) if row else None

    async def mark(
        self,
        recording_id: int,
        call_id: str | None,
        status: TranscriptStatus,
        now: datetime,
        *,
        reason: str | None = None,
        version: str | None = None,
    ) -> TranscriptRecord:
        """Set a not-done status (pending, failed, no_model). A done row stays as it is."""
        if status is TranscriptStatus.DONE:
            raise ValueError("use save() for a done transcript")
        record, _ = await self._write(recording_id, call_id, version, now, status, reason, None)
        return record

    async def save(
        self,
        recording_id: int,
        call_id: str | None,
        transcript: Transcript,
        now: datetime,
        *,
        version: str | None = None,
    ) -> tuple[TranscriptRecord, bool]:
        """Store a done transcript and index it. Returns the row and whether it was written:
        False when this recording already has a done transcript of this version (kept)."""
        return await self._write(
            recording_id, call_id, version, now, TranscriptStatus.DONE, None, transcript
        )

    async def _write(
        self,
        recording_id: int,
        call_id: str | None,
        version: str | None,
        now: datetime,
        status: TranscriptStatus,
        reason: str | None,
        transcript: Transcript | None,
    ) -> tuple[TranscriptRecord, bool]:
        version = version or self.pipeline_version
        for attempt in range(2):  # a concurrent insert of the same row: read it and go on
            try:
                async with self._sessions() as session, session.begin():
                    row = await session.scalar(
                        select(TranscriptRow)
                        .where(
                            TranscriptRow.recording_id == recording_id,
                            TranscriptRow.pipeline_version == version,
                        )
                        .with_for_update()
                    )
                    if row is not None and row.status == TranscriptStatus.DONE.value:
                        return _record(row), False
                    if row is None:
                        row = TranscriptRow(
                            recording_id=recording_id, pipeline_version=version, created_at=now
                        )
                        session.add(row)
                    row.call_id = call_id
                    row.status = status.value
                    row.reason = reason
                    row.updated_at = now
                    if transcript is not None:
                        row.model_id = transcript.model_id
                        row.vosk_version = transcript.vosk_version
                        row.duration_s = transcript.duration_s
                        row.transcript = transcript.to_json()
                    await session.flush()
                    await self._index(session, row.id, transcript)
                    return _record(row), True
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _index(
        self, session: AsyncSession, transcript_id: int, transcript: Transcript | None
    ) -> None:
        await session.execute(
            delete(UtteranceRow).where(UtteranceRow.transcript_id == transcript_id)
        )
        dialect = session.get_bind().dialect.name
        if transcript is None:
            await search_index.write(session, transcript_id, None)
            return
        utterances: list[dict[str, Any]] = []
        for no, u in enumerate(transcript.utterances):
            key = compact(u.normalized)
            if not key:
                continue
            utterances.append(
                {
                    "transcript_id": transcript_id,
                    "utterance_no": no,
                    "channel": u.channel.value,
                    "start_s": u.start,
                    "end_s": u.end,
                    "text": u.normalized,
                    "compact": key,
                }
            )
        if utterances:
            await session.execute(insert(UtteranceRow), utterances)
        grams = search_index.index_grams((u["compact"] for u in utterances), dialect)
        row = await session.get_one(TranscriptRow, transcript_id)
        started = await session.scalar(
            select(RecordingRow.started_at).where(RecordingRow.id == row.recording_id)
        )
        assert started is not None  # a transcript's recording exists (foreign key)
        entry = (row.recording_id, row.pipeline_version, started, grams)
        await search_index.write(session, transcript_id, entry)

    async def delete(self, recording_id: int) -> int:
        """Remove every transcript of a recording (all versions), e.g. when it is purged."""
        async with self._sessions() as session, session.begin():
            ids = list(
                await session.scalars(
                    select(TranscriptRow.id).where(TranscriptRow.recording_id == recording_id)
                )
            )
            if ids:
                await search_index.remove(session, ids)
                await session.execute(
                    delete(UtteranceRow).where(UtteranceRow.transcript_id.in_(ids))
                )
                await session.execute(delete(TranscriptRow).where(TranscriptRow.id.in_(ids)))
            return len(ids)

    async def counts(self, version: str | None = None) -> dict[str, int]:
        """Transcripts of a version by status."""
        stmt = (
            select(TranscriptRow.status, func.count())
            .where(TranscriptRow.pipeline_version == (version or self.pipeline_version))
            .group_by(TranscriptRow.status)
        )
        async with self._sessions() as session:
            return {str(s): int(n) for s, n in (await session.execute(stmt)).all()}

    # --- search ----------------------------------------------------------------------------

    async def search(
        self,
        query: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        agent: str | None = None,
        only_agent: str | None = None,
        offset: int = 0,
        limit: int = 50,
        cursor: str | None = None,
        version: str | None = None,
    ) -> SearchPage:
        """Calls whose transcript (of this pipeline version) says `query`, newest first,
        each with its matching utterances; after `cursor` (a previous page's next_cursor)
        when given. `agent` filters by the recording's agent; `only_agent` is the role
        check: an agent's own calls, by member name or interface."""
        key = search_key(query)
        if not key:
            raise InvalidInput(
                "搜索内容为空 (the search text is empty); give a word or phrase, e.g. q=燃气泄漏"
            )
        if len(key) > MAX_QUERY:
            raise InvalidInput(
                f"搜索内容过长 (the search text has {len(key)} characters, at most {MAX_QUERY})"
            )
        u, s, r = UtteranceRow, SearchRow, RecordingRow
        version = version or self.pipeline_version
        said = u.compact.contains(key, autoescape=True)
        here = select(u.transcript_id).where(u.transcript_id == s.transcript_id, said)
        where: list[Any] = [
            s.pipeline_version == version,
            # OFFSET 0 keeps it a per-transcript check: PostgreSQL would otherwise turn it
            # into a join that scans every utterance with the LIKE (misestimated as rare)
            exists(here.offset(0)),
            *paging.after(s.started_at, s.recording_id, cursor, int),
        ]
        if since:
            where.append(s.started_at >= since)
        if until:
            where.append(s.started_at < until)
        if agent:
            where.append(r.agent == agent)
        if only_agent is not None:
            where.append(owned_by(only_agent, r.id, r.agent, r.call_id))
        async with self._sessions() as session:
            grams = search_index.index_grams([key], session.get_bind().dialect.name)
            where += await search_index.narrows(session, grams)
            calls = (
                select(r, s.transcript_id)
                .join(r, r.id == s.recording_id)
                .where(*where)
                .order_by(s.started_at.desc(), s.recording_id.desc())
                .offset(offset)
                .limit(limit + 1)
            )
            found = (await session.execute(calls)).all()
            more = len(found) > limit
            found = found[:limit]
            rows = (
                await session.scalars(
                    select(u)
                    .where(u.transcript_id.in_([tid for _, tid in found]), said)
                    .order_by(u.transcript_id, u.start_s, u.utterance_no)
                )
            ).all()
        by_transcript: dict[int, list[Match]] = {}
        for utt in rows:
            matches = by_transcript.setdefault(utt.transcript_id, [])
            if len(matches) < MAX_MATCHES_PER_CALL:
                matches.append(
                    Match(utt.utterance_no, utt.channel, utt.start_s, utt.end_s, utt.text)
                )
        hits = [
            SearchHit(
                recording_id=rec.id,
                call_id=rec.call_id,
                started_at=rec.started_at,
                caller_number=rec.caller_number,
                agent=rec.agent,
                queue=rec.queue,
                matches=tuple(by_transcript.get(tid, ())),
            )
            for rec, tid in found
        ]
        last = hits[-1] if more else None
        return SearchPage(
            hits, paging.Cursor(last.started_at, str(last.recording_id)).encode() if last else None
        )
