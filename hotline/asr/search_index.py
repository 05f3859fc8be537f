"""The transcript search's index, one entry per done transcript: the set of character bigrams
of its utterances' compact text. Rule: the index only narrows (a transcript holding every
bigram of the query); the caller confirms with a LIKE on the utterances, so the index may
over-match but never miss.

PostgreSQL: `transcripts.grams`, a text[] with a GIN index, queried with `@>`.
SQLite: the FTS5 table `transcript_fts` (rowid = transcript id), its one column the bigrams
as space-separated tokens, queried with an AND of quoted tokens. FTS5's tokenizer splits on
punctuation, so SQLite indexes only bigrams of two letters or digits; a query with none
(one character, or punctuation only) has no index entry and is a LIKE over the utterances.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

FTS_TABLE = "transcript_fts"


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


async def write(
    session: AsyncSession, table: Any, transcript_id: int, grams: list[str] | None
) -> None:
    """Replace a transcript's index entry (`grams` None: no entry, it is not searchable)."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(
            text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": transcript_id}
        )
        if grams:
            await session.execute(
                text(f"INSERT INTO {FTS_TABLE} (rowid, grams) VALUES (:id, :g)"),
                {"id": transcript_id, "g": " ".join(grams)},
            )
    else:
        await session.execute(
            update(table).where(table.id == transcript_id).values(grams=grams or None)
        )


async def remove(session: AsyncSession, transcript_ids: list[int]) -> None:
    """Drop the entries of transcripts about to be deleted (PostgreSQL: they go with the row)."""
    if session.get_bind().dialect.name == "sqlite" and transcript_ids:
        await session.execute(
            text(f"DELETE FROM {FTS_TABLE} WHERE rowid IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": transcript_ids},
        )


def narrows(dialect: str, id_col: Any, grams_col: Any, grams: list[str]) -> ColumnElement[bool]:
    """Transcripts holding every one of `grams` (not empty)."""
    if dialect == "sqlite":
        match = " ".join(f'"{g}"' for g in grams)  # letters and digits only: nothing to quote
        hits = (
            select(text("rowid"))
            .select_from(text(FTS_TABLE))
            .where(text(f"{FTS_TABLE} MATCH :match").bindparams(match=match))
        )
        return id_col.in_(hits)  # type: ignore[no-any-return]
    return grams_col.contains(grams)  # type: ignore[no-any-return]
