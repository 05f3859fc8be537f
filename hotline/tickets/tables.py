"""The ticket tables as SQLAlchemy sees them. Rule: these classes change only together with
a migration in hotline/migrations/versions (0004_tickets and later); nothing outside the
ticket store modules reads a row, everyone else gets the records of tickets/records.py.

`origin_call` is unique: one draft per call, ever (restarts, a hook run again). Tickets
split off for other units keep the call id but not the origin mark.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime


class TicketRow(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    origin_call: Mapped[str | None] = mapped_column(String(64), unique=True)
    recording_id: Mapped[int | None] = mapped_column(Integer, index=True)
    caller_number: Mapped[str | None] = mapped_column(String(64), index=True)
    agent: Mapped[str | None] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str | None] = mapped_column(String(16), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    complaint_level: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(String(128), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    topic: Mapped[str | None] = mapped_column(String(64), index=True)
    fields: Mapped[str] = mapped_column(Text, default="[]")  # JSON
    evidence: Mapped[str] = mapped_column(Text, default="{}")  # JSON: classification, summary
    confidence: Mapped[float | None] = mapped_column(Float)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)  # the agent changed the draft
    reply: Mapped[str | None] = mapped_column(Text)
    exposure: Mapped[bool] = mapped_column(Boolean, default=False)
    extension: Mapped[str | None] = mapped_column(Text)  # JSON: a pending 延期 request
    dispatch_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    contact_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    done_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reply_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    followup_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    overdue_steps: Mapped[str] = mapped_column(String(64), default="")
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    close_reason: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # 0010_ticket_policy: what the watch queries, the channel, 即时办结, 回访 wishes, 投诉 judged
    next_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    source: Mapped[str] = mapped_column(String(16), default="phone", index=True)
    source_ref: Mapped[str | None] = mapped_column(String(64))  # 12345 工单号, letter no. …
    on_spot: Mapped[bool] = mapped_column(Boolean, default=False)  # 即时办结 (一次解决)
    followup_declined: Mapped[bool] = mapped_column(Boolean, default=False)  # 不需要回访
    followup_booked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # 预约回访时间
    complaint_validity: Mapped[str | None] = mapped_column(String(16))  # valid/invalid/special
    complaint_reason: Mapped[str | None] = mapped_column(Text)
    complained_unit: Mapped[str | None] = mapped_column(String(128))  # 被投诉单位
    complained_agent: Mapped[str | None] = mapped_column(String(128))  # 被投诉人员
    opinion_by: Mapped[datetime | None] = mapped_column(UtcDateTime)  # 处理意见 due (有效投诉)
    contacted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the unit called back
    verify_state: Mapped[str | None] = mapped_column(
        String(16), index=True
    )  # pending/passed/failed
    verify_note: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[str | None] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # 0021_followup_due: when the watch next looks at this ticket's 回访 (NULL: nothing to
    # dial: not replied, one in progress, declined, reached, attempts used up, closed)
    followup_due: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)


class TicketEventRow(Base):
    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON


class TicketAttachmentRow(Base):
    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))  # under the archive root
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class TicketFollowupRow(Base):
    __tablename__ = "ticket_followups"
    __table_args__ = (UniqueConstraint("ticket_id", "round", "attempt_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)  # 0, then 1 after a 不满意重办 …
    attempt_no: Mapped[int] = mapped_column(Integer)
    planned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(String(16))
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    action_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    ami_response: Mapped[str | None] = mapped_column(Text)
