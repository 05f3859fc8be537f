"""The transcript search's index: one narrow row per done transcript (`transcript_search`:
its recording, version and the recording's start time) with the set of character bigrams of
its utterances' compact text. Rule: the index only narrows (a transcript holding every
bigram of the query); the caller confirms with a LIKE on the utterances, so the index may
over-match but never miss.

PostgreSQL: `transcript_search.grams`, a text[] with a GIN index, queried with `@>`.
SQLite: the FTS5 table `transcript_fts` (rowid = transcript id), its one column the bigrams
as space-separated tokens, queried with an AND of quoted tokens. FTS5's tokenizer splits on
punctuation, so SQLite indexes only bigrams of two letters or digits; a query with none
(one character, or punctuation only) has no index entry to use.

Two ways to a page, chosen by how many transcripts the index holds for the query (counted
up to FEW): a few are read from the index and sorted; many are found by walking the
transcripts newest first (B-tree on version, start time) and checking each with the LIKE,
which stops after a page because at least FEW of them match (denser matches, shorter
walk). An agent's own search starts from their recordings, whichever way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime

FTS_TABLE = "transcript_fts"
FEW = 2000  # index hits up to which the index drives the query; past it, a newest-first walk


class SearchRow(Base):
    """A done transcript as the search walks it: narrow, newest first."""

    __tablename__ = "transcript_search"
    __table_args__ = (
        Index("ix_transcript_search_walk", "pipeline_version", "started_at", "recording_id"),
        Index("ix_transcript_search_grams", "grams", postgresql_using="gin"),
        # an agent's own calls: from their recordings to these rows, not a walk of all
        Index("ix_transcript_search_recording_id", "recording_id"),
    )

    transcript_id: Mapped[int] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), primary_key=True
    )
    recording_id: Mapped[int] = mapped_column(Integer)
    pipeline_version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the recording's
    # PostgreSQL's index; always NULL on SQLite (FTS5 there)
    grams: Mapped[list[str] | None] = mapped_column(
        ARRAY(Text).with_variant(JSON(none_as_null=True), "sqlite")
    )


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def index_grams(compacts: Iterable[str], dialect: str) -> list[str]:
    """The bigrams the index holds for these compact texts (or for a query's key)."""
    grams: set[str] = set()
    for c in compacts:
        grams |= bigrams(c)
    if dialect == "sqlite":
        grams = {g for g in grams if g.isalnum()}
    return sorted(grams)


def _sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


async def write(
    session: AsyncSession,
    transcript_id: int,
    entry: tuple[int, str, datetime, list[str]] | None,
) -> None:
    """Replace a transcript's index entry: (recording id, version, the recording's start,
    bigrams), or None: not searchable."""
    await remove(session, [transcript_id])
    if entry is None:
        return
    recording_id, version, started_at, grams = entry
    sqlite = _sqlite(session)
    await session.execute(
        insert(SearchRow).values(
            transcript_id=transcript_id,
            recording_id=recording_id,
            pipeline_version=version,
            started_at=started_at,
            grams=None if sqlite else grams,
        )
    )
    if sqlite and grams:
        await session.execute(
            text(f"INSERT INTO {FTS_TABLE} (rowid, grams) VALUES (:id, :g)"),
            {"id": transcript_id, "g": " ".join(grams)},
        )


async def remove(session: AsyncSession, transcript_ids: list[int]) -> None:
    if not transcript_ids:
        return
    await session.execute(delete(SearchRow).where(SearchRow.transcript_id.in_(transcript_ids)))
    if _sqlite(session):
        for tid in transcript_ids:
            await session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": tid})


def _hits(sqlite: bool, grams: list[str]) -> Any:
    """The transcript ids the index holds for `grams` (not empty), at most FEW + 1."""
    if sqlite:
        match = " ".join(f'"{g}"' for g in grams)  # letters and digits only: nothing to quote
        return (
            select(text("rowid"))
            .select_from(text(FTS_TABLE))
            .where(text(f"{FTS_TABLE} MATCH :match").bindparams(match=match))
            .limit(FEW + 1)
        )
    # every version's hits: the GIN index alone answers (the caller filters the version)
    return select(SearchRow.transcript_id).where(SearchRow.grams.contains(grams)).limit(FEW + 1)


async def narrows(session: AsyncSession, grams: list[str]) -> list[ColumnElement[bool]]:
    """The WHERE clause that narrows SearchRow to transcripts holding `grams` (maybe empty:
    then the caller's LIKE alone decides), in the way that is fast for this query."""
    if not grams:
        return []
    sqlite = _sqlite(session)
    hits = _hits(sqlite, grams)
    n = int(await session.scalar(select(func.count()).select_from(hits.subquery())) or 0)
    if n <= FEW:  # few: the index drives, the sort is small
        return [SearchRow.transcript_id.in_(hits)]
    # many: walk newest first and let the LIKE alone check (at least FEW match, so a page
    # comes soon); a bigram check here would make PostgreSQL misjudge the walk and read
    # and sort every hit instead
    return []
