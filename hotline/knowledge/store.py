"""Knowledge articles, their versions and their sound-gram index in the database. Rule: an
article has at most one published version (publishing one supersedes the last); only a
published version within its validity is indexed for search, and the search is one SQL
statement over the `kb_grams` B-tree, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime
from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.core.roles import Role
from hotline.knowledge.model import (
    Action,
    ArticleIn,
    ArticleVersion,
    Suggestion,
    VersionState,
    move,
)
from hotline.knowledge.text import grams, score, weighted_grams

MIN_MATCHED = 2  # grams an article must share with the words to be suggested
MAX_QUERY_GRAMS = 400


class ArticleRow(Base):
    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    published_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class VersionRow(Base):
    __tablename__ = "kb_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text)  # JSON list
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    author: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str | None] = mapped_column(String(64))
    review_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class KbGramRow(Base):
    __tablename__ = "kb_grams"
    __table_args__ = (
        PrimaryKeyConstraint("version_id", "gram"),
        Index("ix_kb_grams_gram", "gram", "version_id"),
    )

    version_id: Mapped[int] = mapped_column(ForeignKey("kb_versions.id", ondelete="CASCADE"))
    gram: Mapped[str] = mapped_column(String(32))
    weight: Mapped[int] = mapped_column(Integer)


def _version(r: VersionRow) -> ArticleVersion:
    return ArticleVersion(
        r.id,
        r.article_id,
        r.version,
        VersionState(r.state),
        r.category,
        r.title,
        r.body,
        tuple(json.loads(r.keywords)),
        r.valid_from,
        r.valid_until,
        r.author,
        r.reviewer,
        r.review_note,
        r.created_at,
        r.reviewed_at,
        r.published_at,
    )


def _missing(article_id: int) -> NotFound:
    return NotFound(
        f"知识库文章 #{article_id} 不存在 (no article {article_id})", error_id="article_missing"
    )


class KnowledgeBase:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def draft(
        self, data: ArticleIn, *, author: str, now: datetime, article_id: int | None = None
    ) -> ArticleVersion:
        """A new article (its version 1), or a new draft version of `article_id` (the
        published version stays in use until the new one is published)."""
        data.check()
        async with self._sessions() as session, session.begin():
            if article_id is None:
                article = ArticleRow(created_at=now, updated_at=now)
                session.add(article)
                await session.flush()
                number = 1
            else:
                found = await session.get(ArticleRow, article_id, with_for_update=True)
                if found is None:
                    raise _missing(article_id)
                article = found
                open_ = await session.scalar(
                    select(VersionRow.version).where(
                        VersionRow.article_id == article_id,
                        VersionRow.state.in_(["draft", "submitted", "approved"]),
                    )
                )
                if open_ is not None:
                    raise Conflict(
                        f"文章 #{article_id} 已有未发布的第{open_}版：请先完成或修改该版本 "
                        "(an unpublished version exists)",
                        error_id="open_version",
                    )
                number = 1 + int(
                    await session.scalar(
                        select(func.max(VersionRow.version)).where(
                            VersionRow.article_id == article_id
                        )
                    )
                    or 0
                )
                article.updated_at = now
            row = VersionRow(
                article_id=article.id,
                version=number,
                state=VersionState.DRAFT.value,
                category=data.category.strip()[:64],
                title=data.title.strip()[:200],
                body=data.body.strip(),
                keywords=json.dumps(list(data.keywords), ensure_ascii=False),
                valid_from=data.valid_from,
                valid_until=data.valid_until,
                author=author,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            return _version(row)

    async def edit(
        self, article_id: int, version: int, data: ArticleIn, *, actor: str, now: datetime
    ) -> ArticleVersion:
        """Change a draft (its author only)."""
        data.check()
        async with self._sessions() as session, session.begin():
            row = await self._row(session, article_id, version)
            if row.state != VersionState.DRAFT.value:
                raise Conflict(
                    "只能修改采编中的版本：已发布的文章请新建版本 (only a draft can be changed)",
                    error_id="wrong_article_state",
                )
            if row.author != actor:
                raise Conflict(f"该版本由{row.author}采编，只能由其本人修改 (not your draft)")
            row.category = data.category.strip()[:64]
            row.title = data.title.strip()[:200]
            row.body = data.body.strip()
            row.keywords = json.dumps(list(data.keywords), ensure_ascii=False)
            row.valid_from = data.valid_from
            row.valid_until = data.valid_until
            return _version(row)

    async def _row(self, session: AsyncSession, article_id: int, version: int) -> VersionRow:
        row = await session.scalar(
            select(VersionRow)
            .where(VersionRow.article_id == article_id, VersionRow.version == version)
            .with_for_update()
        )
        if row is None:
            raise NotFound(
                f"文章 #{article_id} 没有第{version}版 (no such version)",
                error_id="article_missing",
            )
        return row

    async def act(
        self,
        article_id: int,
        version: int,
        action: Action,
        *,
        actor: str,
        role: Role,
        now: datetime,
        note: str | None = None,
    ) -> ArticleVersion:
        async with self._sessions() as session, session.begin():
            row = await self._row(session, article_id, version)
            target = move(
                VersionState(row.state), action, role=role, actor=actor, author=row.author
            )
            row.state = target.value
            if action in (Action.APPROVE, Action.REJECT):
                row.reviewer = actor
                row.reviewed_at = now
                row.review_note = (note or "").strip() or None
            article = await session.get(ArticleRow, article_id, with_for_update=True)
            assert article is not None
            article.updated_at = now
            if action is Action.PUBLISH:
                old = await session.scalars(
                    select(VersionRow).where(
                        VersionRow.article_id == article_id,
                        VersionRow.state == VersionState.PUBLISHED.value,
                        VersionRow.id != row.id,
                    )
                )
                for o in old:
                    o.state = VersionState.SUPERSEDED.value
                    await session.execute(delete(KbGramRow).where(KbGramRow.version_id == o.id))
                row.published_at = now
                article.published_version = row.version
                weights = weighted_grams(row.title, json.loads(row.keywords), row.body)
                if weights:
                    await session.execute(
                        insert(KbGramRow),
                        [
                            {"version_id": row.id, "gram": g, "weight": w}
                            for g, w in weights.items()
                        ],
                    )
            if action is Action.RETIRE:
                article.published_version = None
                await session.execute(delete(KbGramRow).where(KbGramRow.version_id == row.id))
            return _version(row)

    async def versions(self, article_id: int) -> list[ArticleVersion]:
        async with self._sessions() as session:
            rows = list(
                await session.scalars(
                    select(VersionRow)
                    .where(VersionRow.article_id == article_id)
                    .order_by(VersionRow.version)
                )
            )
        if not rows:
            raise _missing(article_id)
        return [_version(r) for r in rows]

    async def listing(
        self, *, state: VersionState | None = None, q: str | None = None, limit: int = 100
    ) -> list[ArticleVersion]:
        """The newest version of each article (or the versions in `state`)."""
        newest = (
            select(VersionRow.article_id, func.max(VersionRow.version).label("v"))
            .group_by(VersionRow.article_id)
            .subquery()
        )
        stmt = select(VersionRow).order_by(VersionRow.article_id.desc()).limit(limit)
        if state is not None:
            stmt = stmt.where(VersionRow.state == state.value)
        else:
            stmt = stmt.join(
                newest,
                (newest.c.article_id == VersionRow.article_id) & (newest.c.v == VersionRow.version),
            )
        if q:
            stmt = stmt.where(
                or_(
                    VersionRow.title.contains(q, autoescape=True),
                    VersionRow.category.contains(q, autoescape=True),
                )
            )
        async with self._sessions() as session:
            return [_version(r) for r in await session.scalars(stmt)]

    async def suggest(
        self,
        words: Iterable[str],
        now: datetime,
        *,
        limit: int = 5,
        min_matched: int = MIN_MATCHED,
    ) -> list[Suggestion]:
        """The published articles, valid at `now`, that share the most sound grams with
        `words` (what the customer said, or what an agent typed), best first."""
        wanted: set[str] = set()
        for w in words:
            wanted |= grams(w)
        if not wanted:
            return []
        query = sorted(wanted)[:MAX_QUERY_GRAMS]
        g, v = KbGramRow, VersionRow
        valid = (
            v.state == VersionState.PUBLISHED.value,
            v.valid_from <= now,
            or_(v.valid_until.is_(None), v.valid_until > now),
        )
        async with self._sessions() as session:
            hits = (
                await session.execute(
                    select(g.version_id, g.gram, g.weight)
                    .join(v, v.id == g.version_id)
                    .where(g.gram.in_(query), *valid)
                )
            ).all()
            if not hits:
                return []
            df = dict(
                (
                    await session.execute(
                        select(g.gram, func.count())
                        .join(v, v.id == g.version_id)
                        .where(g.gram.in_({h[1] for h in hits}), *valid)
                        .group_by(g.gram)
                    )
                ).all()
            )
            total = int(
                await session.scalar(select(func.count()).select_from(v).where(*valid)) or 0
            )
            by_version: dict[int, list[tuple[str, int]]] = {}
            for vid, gram, weight in hits:
                by_version.setdefault(vid, []).append((gram, weight))
            ranked = sorted(
                (
                    (
                        score([w for _, w in found], [df[gr] for gr, _ in found], total),
                        vid,
                        tuple(sorted(gr for gr, _ in found)),
                    )
                    for vid, found in by_version.items()
                    if len(found) >= min(min_matched, len(query))
                ),
                reverse=True,
            )[:limit]
            if not ranked:
                return []
            rows = {
                r.id: r
                for r in await session.scalars(
                    select(v).where(v.id.in_([vid for _, vid, _ in ranked]))
                )
            }
        return [Suggestion(_version(rows[vid]), round(s, 3), m) for s, vid, m in ranked]

    async def search(self, q: str, now: datetime, *, limit: int = 10) -> list[Suggestion]:
        """What a person typed: one shared sound pair is enough (ranked by rarity)."""
        if not q.strip():
            raise InvalidInput("搜索内容为空：请输入客户的问题或关键词 (empty query)")
        if len(q) > 500:
            raise InvalidInput("搜索内容过长：最多500字 (at most 500 characters)")
        return await self.suggest([q], now, limit=limit, min_matched=1)

    async def published(self, version_ids: Sequence[int]) -> list[ArticleVersion]:
        async with self._sessions() as session:
            rows = await session.scalars(select(VersionRow).where(VersionRow.id.in_(version_ids)))
            return [_version(r) for r in rows]
