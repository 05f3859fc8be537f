"""Tickets from every channel: a 12345 or other government transfer (with its reference
number and its own deadline), a WeChat or web message, a letter, a visit, or a new request
raised during a 回访, entered by hand or through the API.

Rule: a ticket that did not come from an answered call is accepted when it is entered,
with its source; its clock starts when the matter was received (`received_at`, default
now), a transfer's own deadline is its 办结 deadline, and the customer's 回访 wishes
(declined, or a booked time outside quiet hours) are kept with it. Anything missing or
impossible is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from hotline.core.bus import Bus, Message
from hotline.core.errors import InvalidInput
from hotline.tickets import followup, sla
from hotline.tickets.drafting import Drafting, payload
from hotline.tickets.lifecycle import Role
from hotline.tickets.model import SOURCE_LABELS, Category, ComplaintLevel, Source
from hotline.tickets.policy import HotlinePolicy
from hotline.tickets.records import TicketRecord
from hotline.tickets.store import TicketStore

CREATED_TOPIC = "ticket/created"


class Intake:
    def __init__(
        self,
        store: TicketStore,
        bus: Bus,
        drafting: Drafting,
        *,
        policy: HotlinePolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.bus = bus
        self.drafting = drafting
        self.policy = policy
        self.clock = clock

    async def create(
        self,
        *,
        source: Source | str,
        category: Category | str,
        summary: str,
        actor: str,
        role: Role | str,
        caller_number: str | None = None,
        unit: str | None = None,
        source_ref: str | None = None,
        received_at: datetime | None = None,
        due: datetime | None = None,
        urgent: bool = False,
        complaint_level: ComplaintLevel | int | None = None,
        followup_declined: bool = False,
        followup_booked_at: datetime | None = None,
        raised_from: int | None = None,
        owner: str | None = None,
        people: int = 1,
    ) -> TicketRecord:
        """`owner`: the first-contact agent (their queue member or interface; default the
        actor), who sees the ticket among their own."""
        now = self.clock()
        src = _source(source)
        cat = _category(category)
        summary = summary.strip()
        if not summary:
            raise InvalidInput("请填写诉求内容 (summary is empty: say what the customer asks for)")
        source_ref = (source_ref or "").strip() or None
        if src is Source.GOVERNMENT and source_ref is None:
            raise InvalidInput(
                "政府转办工单须填写转办单号 (a government transfer needs its reference number "
                "in source_ref, e.g. the 12345 工单号)",
                error_id="missing_source_ref",
            )
        if src is Source.FOLLOWUP:
            if raised_from is None:
                raise InvalidInput(
                    "回访中提出的新诉求须注明原工单 (a request raised during a 回访 needs "
                    "raised_from: the id of the ticket being followed up)"
                )
            await self.store.require(raised_from)
        received = _aware(received_at, "received_at") if received_at else now
        if received > now:
            raise InvalidInput("收到时间不能晚于现在 (received_at is in the future)")
        if due is not None and _aware(due, "due") <= received:
            raise InvalidInput(
                "转办时限须晚于收到时间 (due must be after received_at: give the transfer's "
                "own deadline)"
            )
        if followup_booked_at is not None:
            at = _aware(followup_booked_at, "followup_booked_at")
            followup.check_booking(self.policy.followup, at, now)
        level = ComplaintLevel(complaint_level) if complaint_level else None
        if cat is Category.COMPLAINT and level is None:
            level = self.policy.sla.base_level
        if cat is not Category.COMPLAINT:
            level = None
        elif level is not None and people > 1:  # 集体投诉: counted by the policy's rules
            level = sla.escalate(
                level,
                complainants_same_issue=1,
                repeats_same_event=1,
                exposure=False,
                people_together=people,
                policy=self.policy.sla,
            )
        rule = self.policy.sla.spans(cat, level)
        unit_clock = received if rule.clock is sla.Clock.TRANSFER else None
        deadlines, unknown = sla.deadlines_known(
            self.policy.sla, cat, level, received, unit_clock_at=unit_clock
        )
        if due is not None:  # the transfer's own deadline
            deadlines = replace(deadlines, done_by=_aware(due, "due"))
        record = await self.store.create(
            source=src,
            source_ref=source_ref,
            caller_number=(caller_number or "").strip() or None,
            agent=owner or actor,
            category=cat,
            summary=summary,
            unit=(unit or "").strip() or None,
            urgent=urgent or cat is Category.EMERGENCY,
            complaint_level=level,
            deadlines=deadlines,
            created_at=received,
            followup_declined=followup_declined,
            followup_booked_at=followup_booked_at,
            actor=actor,
            role=role,
            now=now,
            detail={
                "source": src.value,
                "source_label": SOURCE_LABELS[src],
                "source_ref": source_ref,
                "raised_from": raised_from,
                "due": due,
            },
        )
        await self.drafting.calendar_gap(record.id, unknown)
        if raised_from is not None:
            await self.store.note(
                raised_from,
                "raised_new",
                actor=actor,
                role=role,
                now=now,
                detail={"ticket_id": record.id},
            )
        await self.bus.publish(Message(CREATED_TOPIC, payload(record, source=src.value, by=actor)))
        if record.ticket.urgent:
            await self.drafting.urgent(record, ())
        return record


def _source(value: Source | str) -> Source:
    try:
        return Source(value)
    except ValueError:
        names = ", ".join(s.value for s in Source)
        raise InvalidInput(f"未知的来源 {value!r} (unknown source; one of: {names})") from None


def _category(value: Category | str) -> Category:
    try:
        return Category(value)
    except ValueError:
        names = ", ".join(c.value for c in Category)
        raise InvalidInput(
            f"未知的工单分类 {value!r} (unknown category; one of: {names})"
        ) from None


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"时间缺少时区 ({name} needs a time zone)")
    return value
