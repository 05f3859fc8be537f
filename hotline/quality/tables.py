"""The quality tables (SQLAlchemy). Rule: rows never leave the quality store's modules;
callers get the frozen records of hotline.quality.records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime

# a call's score as reports count it: the final score once finalised; written out as text so
# that the worst-calls query and its index (migration 0019) say it the same way
EFFECTIVE_SCORE = (
    "CASE WHEN status = 'finalised' AND final_score IS NOT NULL THEN final_score ELSE score END"
)


class ScoreRow(Base):
    __tablename__ = "quality_scores"
    __table_args__ = (
        UniqueConstraint("call_id", "pack"),
        # the newest row per call, lists by time and by agent or band (migration 0012)
        Index("ix_quality_scores_call_id_id", "call_id", "id"),
        Index("ix_quality_scores_call_started_at_id", "call_started_at", "id"),
        Index("ix_quality_scores_agent_started_at", "agent", "call_started_at"),
        Index("ix_quality_scores_band_started_at", "band", "call_started_at"),
        # reports (migration 0019): a period's totals read from the index alone, and the
        # worst calls in order
        Index(
            "ix_quality_scores_period_totals",
            "call_started_at",
            "agent",
            "queue",
            "status",
            "score",
            "final_score",
            "within_rule",
            postgresql_where=text("latest"),
            sqlite_where=text("latest"),
        ),
        Index(
            "ix_quality_scores_worst",
            text(f"({EFFECTIVE_SCORE})"),
            "call_started_at",
            postgresql_where=text("latest"),
            sqlite_where=text("latest"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    pack: Mapped[str] = mapped_column(String(128))
    recording_id: Mapped[int | None] = mapped_column(Integer)
    agent: Mapped[str | None] = mapped_column(String(128), index=True)
    queue: Mapped[str | None] = mapped_column(String(128), index=True)
    call_started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ring_seconds: Mapped[float | None] = mapped_column(Float)
    within_rule: Mapped[bool | None] = mapped_column(Boolean)
    auto_score: Mapped[float] = mapped_column(Float)  # the scorer's
    auto_band: Mapped[str] = mapped_column(String(32))
    instant_fail: Mapped[bool] = mapped_column(Boolean)  # the scorer's
    score: Mapped[float] = mapped_column(Float, index=True)  # current: from the verdicts
    # the call's newest row (highest id); older packs' rows stay for audit (migration 0013)
    latest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # pending needs-review hits, kept by txn.rescore on every change of a hit (migration
    # 0019): the review queue reads it instead of counting hits
    pending_review: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    band: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    final_score: Mapped[float | None] = mapped_column(Float)
    finalised_by: Mapped[str | None] = mapped_column(String(64))
    finalised_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # compare-and-set: every review decision bumps it (409 for one made on an older one)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class HitRow(Base):
    __tablename__ = "quality_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("quality_scores.id"), index=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text)
    conf: Mapped[float] = mapped_column(Float)
    deduction: Mapped[float] = mapped_column(Float)  # the scorer's (0 while it needs review)
    points: Mapped[float] = mapped_column(Float)  # taken off once confirmed
    needs_review: Mapped[bool] = mapped_column(Boolean)
    instant_fail: Mapped[bool] = mapped_column(Boolean)
    verdict: Mapped[str] = mapped_column(String(16))
    verdict_by: Mapped[str | None] = mapped_column(String(64))
    verdict_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verdict_comment: Mapped[str | None] = mapped_column(Text)


class CommentRow(Base):
    __tablename__ = "quality_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("quality_scores.id"), index=True)
    hit_id: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    text: Mapped[str] = mapped_column(Text)


class AppealRow(Base):
    __tablename__ = "quality_appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("quality_scores.id"), index=True)
    hit_id: Mapped[int] = mapped_column(ForeignKey("quality_hits.id"), index=True)
    call_id: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(128))  # the call's agent
    opened_by: Mapped[str] = mapped_column(String(64))  # the appealing user
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)


class HistoryRow(Base):
    __tablename__ = "quality_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("quality_scores.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    hit_id: Mapped[int | None] = mapped_column(Integer)
    appeal_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
