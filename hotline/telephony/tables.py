"""The calls table. Rule: only telephony imports it; every other package reads calls through
`hotline.telephony.view` (tests/test_boundaries.py keeps it so).

A row holds the record's searchable fields as columns and the full record (visits, agents
rung) as JSON, so a restart can reload the calls still in progress.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime


class CallRow(Base):
    __tablename__ = "calls"
    __table_args__ = (  # each list filter, the direction, the newest-first order (0018)
        # the upsert's key, also on a partitioned `calls` (migration w17_0022)
        Index("ux_calls_call_id_entered_at", "call_id", "entered_at", unique=True),
        Index("ix_calls_entered_at_call_id", "entered_at", "call_id"),
        Index("ix_calls_direction_entered_at_call_id", "direction", "entered_at", "call_id"),
        *(
            Index(f"ix_calls_{column}_direction", column, "direction", "entered_at", "call_id")
            for column in ("within_rule", "agent_member", "agent_interface", "queue", "outcome")
        ),
        Index(
            "ix_calls_open",
            "call_id",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
    )

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    caller_number: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(128))
    dialled: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(128), index=True)
    agent_member: Mapped[str | None] = mapped_column(String(128), index=True)
    agent_interface: Mapped[str | None] = mapped_column(String(128), index=True)
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ring_seconds: Mapped[float | None] = mapped_column(Float)
    rings: Mapped[int | None] = mapped_column(Integer)
    within_rule: Mapped[bool | None] = mapped_column(Boolean)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    recording_file: Mapped[str | None] = mapped_column(Text)
    recording_path: Mapped[str | None] = mapped_column(Text)
    callback_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)  # the whole CallRecord as JSON


class CallChangeRow(Base):
    """How often the calls that entered in one UTC hour have changed (their rows or their
    callbacks' status): a day's service-level roll-up is valid while its hours' generations
    are those it was built at (hotline/telephony/rollup.py)."""

    __tablename__ = "call_changes"

    hour: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    gen: Mapped[int] = mapped_column(Integer)


class CallDayBuiltRow(Base):
    """A local day of a zone whose roll-up rows are built, and the sum of its hours'
    generations when they were (-1 while a build holds the row)."""

    __tablename__ = "call_day_built"

    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, local
    gens: Mapped[int] = mapped_column(Integer)


class CallDayRollupRow(Base):
    """The service-level counters of one local day, queue and answering agent (inbound)."""

    __tablename__ = "call_day_rollup"
    __table_args__ = (Index("ix_call_day_rollup_zone_day", "zone", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    zone: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))
    queue: Mapped[str | None] = mapped_column(String(128))
    agent_member: Mapped[str | None] = mapped_column(String(128))
    calls: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    within_rule: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    answer_seconds_sum: Mapped[float] = mapped_column(Float)
    callbacks_done: Mapped[int] = mapped_column(Integer)
