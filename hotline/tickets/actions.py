"""People's actions on a ticket: edits, lifecycle moves, extensions and splits.

Rule: an illegal move is refused by the pure `lifecycle.step` before anything is read or
written; deadlines a move changes are computed by `sla` (through `Drafting`, which says
when the calendar cannot place them) and stored with the move, compare-and-set, with
history; every change is published as "ticket/changed".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from hotline.core.bus import Bus, Message
from hotline.core.errors import InvalidInput
from hotline.tickets import followup, lifecycle, sla
from hotline.tickets.calendar import CalendarUnknown
from hotline.tickets.drafting import Drafting, payload
from hotline.tickets.lifecycle import Action, Role
from hotline.tickets.model import (
    CATEGORY_LABELS,
    Category,
    ComplaintLevel,
    Deadlines,
    Validity,
)
from hotline.tickets.policy import HotlinePolicy
from hotline.tickets.records import TicketRecord
from hotline.tickets.store import TicketStore


class Actions:
    def __init__(
        self,
        store: TicketStore,
        bus: Bus,
        drafting: Drafting,
        *,
        sla_policy: sla.SlaPolicy,
        clock: Callable[[], datetime],
        policy: HotlinePolicy | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.drafting = drafting
        self.sla = sla_policy
        self.clock = clock
        self.policy = policy

    async def edit(
        self, ticket_id: int, changes: Mapping[str, Any], *, actor: str, role: Role | str
    ) -> TicketRecord:
        current = await self.store.require(ticket_id)
        t = current.ticket
        booked = changes.get("followup_booked_at")
        if isinstance(booked, datetime) and self.policy is not None:
            followup.check_booking(self.policy.followup, booked, self.clock())
        category = Category(changes["category"]) if changes.get("category") else t.category
        if category is Category.EMERGENCY and "urgent" not in changes:
            changes = {**changes, "urgent": True}  # 报警/紧急 is urgent by definition
        made_complaint = category is Category.COMPLAINT and t.category is not category
        if made_complaint and "complaint_level" not in changes:  # by hand: counted as usual
            topic = changes.get("topic", t.topic)
            level = await self.drafting.level(current, category, topic)
            changes = {**changes, "complaint_level": level}
        level = changes.get("complaint_level", t.complaint_level)
        level = ComplaintLevel(level) if level else None
        new_deadlines = None
        if category is not None and (category != t.category or level != t.complaint_level):
            new_deadlines = await self.drafting.deadlines(t.id, category, level, t.created_at)
        record = await self.store.edit(
            ticket_id, changes, actor=actor, role=role, now=self.clock(), deadlines=new_deadlines
        )
        await self.bus.publish(Message("ticket/changed", payload(record, action="edit", by=actor)))
        if record.ticket.urgent and not t.urgent:
            await self.drafting.urgent(record, ())
        return record

    async def act(
        self,
        ticket_id: int,
        action: Action | str,
        *,
        actor: str,
        role: Role | str,
        reason: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> TicketRecord:
        """A lifecycle action by a person (see `lifecycle.TABLE`)."""
        current = await self.store.require(ticket_id)
        t, now = current.ticket, self.clock()
        data = dict(data or {})
        if self.policy is not None and Action(action) is Action.DISPATCH:
            lifecycle.check_role(Action.DISPATCH, role, self.policy.min_role(Action.DISPATCH))
        act = lifecycle.step(  # refuse an illegal move before anything else
            t.state,
            action,
            role,
            reason=reason,
            unit=data.get("unit"),
            satisfaction=data.get("satisfaction"),
            unreachable=bool(data.get("unreachable")),
        ).action
        deadlines: Deadlines | None = None
        level: ComplaintLevel | None = None
        followup_due: datetime | None = None
        dl = self.drafting.deadlines
        if act is Action.CONFIRM:
            if t.category is None:
                raise InvalidInput(
                    "确认受理前请先选择工单分类 (choose the ticket's category before confirming: "
                    "PATCH /api/tickets/{id} with category)"
                )
            deadlines = await dl(t.id, t.category, t.complaint_level, t.created_at)
        elif act is Action.RESOLVE_ON_SPOT:
            self._check_on_spot(t.category)
        elif act is Action.DISPATCH and t.category is not None:
            rule = self.sla.spans(t.category, t.complaint_level)
            if rule.clock is sla.Clock.DISPATCH:  # the unit's clock starts now
                unit = await dl(t.id, t.category, t.complaint_level, t.created_at, now)
                deadlines = replace(t.deadlines, contact_by=unit.contact_by, done_by=unit.done_by)
        elif act is Action.REPLY:
            try:
                reply_by: datetime | None = sla.reply_deadline(self.sla, now)
            except CalendarUnknown as exc:
                reply_by = None
                await self.drafting.calendar_gap(t.id, (exc,))
            deadlines = replace(t.deadlines, reply_by=reply_by)
            if self.policy is not None:  # the first 回访 attempt, indexed for the watch
                start = followup.start(
                    self.policy.followup, now, current.followup_booked_at, t.reopened
                )
                followup_due = followup.next_attempt_at(self.policy.followup, start, [])
        elif act is Action.REOPEN and t.category is not None:
            # 不满意重办: the second handling gets the category's time again, from now
            again = await dl(t.id, t.category, t.complaint_level, now, now)
            deadlines = replace(again, dispatch_by=t.deadlines.dispatch_by, reply_by=None)
        elif act is Action.REQUEST_EXTENSION:
            new_due = data.get("new_due")
            if isinstance(new_due, datetime) and isinstance(data.get("step"), str):
                sla.extend(t.deadlines, data["step"], new_due, now)  # refuse what cannot pass
                self._check_lead(t.deadlines, data["step"], now)
        elif act is Action.APPROVE_EXTENSION and current.extension is not None:
            ext = current.extension  # asked in time: approving it later still counts
            deadlines = sla.extend(t.deadlines, ext.step, ext.new_due, ext.at)
            data.update(step=ext.step, new_due=ext.new_due, requested_by=ext.by)
        elif act is Action.SET_EXPOSURE:
            if t.category is not Category.COMPLAINT:
                raise InvalidInput(
                    "只有投诉工单可以标记媒体/法律曝光 (media or legal exposure makes a complaint"
                    " level 1: set the ticket's category to 投诉 first)",
                    error_id="not_a_complaint",
                )
            level = ComplaintLevel.MAJOR
            deadlines = await dl(t.id, t.category, level, t.created_at)
        record = await self.store.apply(
            ticket_id,
            act,
            actor,
            role,
            reason,
            data,
            now=now,
            deadlines=deadlines,
            complaint_level=level,
            followup_due=followup_due,
        )
        await self.bus.publish(
            Message("ticket/changed", payload(record, action=str(act), by=actor))
        )
        if act is Action.REPLY:
            record = await self._close_without_followup(record)
        return record

    async def _close_without_followup(self, record: TicketRecord) -> TicketRecord:
        """After the reply: a ticket that gets no 回访 (the customer declined it, or the
        policy does not ask for one for its category and source) is closed at once."""
        if self.policy is None:
            return record
        t = record.ticket
        rules = self.policy.followup_rules
        if rules.wanted(t.category, t.source, record.followup_declined):
            return record
        reason = "客户不需要回访" if record.followup_declined else "按规定该类工单无需回访"
        return await self.act(
            t.id, Action.CLOSE_NO_FOLLOWUP, actor="system", role=Role.SYSTEM, reason=reason
        )

    async def judge(
        self,
        ticket_id: int,
        validity: Validity | str,
        *,
        reason: str,
        unit: str | None = None,
        agent: str | None = None,
        actor: str,
        role: Role | str,
    ) -> TicketRecord:
        """投诉认定: 有效 / 无效 / 特殊 with the reason and the party complained about (a unit
        and/or an agent); a valid complaint's handling opinion is due within the policy's
        `complaint_opinion` (004: 5 working days). A supervisor's call; judged again, the
        last judgement stands and the history keeps each."""
        lifecycle.check_role(Action.APPROVE_EXTENSION, role)  # supervisors and up
        try:
            v = Validity(validity)
        except ValueError:
            raise InvalidInput(
                f"投诉认定结果 {validity!r} 无效 (validity must be valid 有效, invalid 无效 or "
                "special 特殊)"
            ) from None
        reason = reason.strip()
        if not reason:
            raise InvalidInput("投诉认定须填写理由 (a judgement needs its reason)")
        unit = (unit or "").strip() or None
        agent = (agent or "").strip() or None
        if v is Validity.VALID and unit is None and agent is None:
            raise InvalidInput(
                "有效投诉须指明被投诉的单位或人员 (a valid complaint names the unit and/or the "
                "agent complained about)"
            )
        current = await self.store.require(ticket_id)
        if current.ticket.category is not Category.COMPLAINT:
            raise InvalidInput(
                "只有投诉工单可以认定 (only a complaint can be judged: set the category to 投诉 "
                "first)",
                error_id="not_a_complaint",
            )
        now = self.clock()
        span = self.policy.complaint_opinion if self.policy else None
        opinion_by = None
        if v is Validity.VALID and span is not None:
            try:
                opinion_by = self.sla.due(span, now)
            except CalendarUnknown as exc:
                await self.drafting.calendar_gap(ticket_id, (exc,))
        record = await self.store.judge(
            current,
            {
                "complaint_validity": v.value,
                "complaint_reason": reason,
                "complained_unit": unit,
                "complained_agent": agent,
                "opinion_by": opinion_by,
            },
            actor=actor,
            role=role,
            now=now,
        )
        await self.bus.publish(Message("ticket/changed", payload(record, action="judge", by=actor)))
        return record

    def _check_on_spot(self, category: Category | None) -> None:
        allowed = self.policy.on_spot if self.policy else frozenset({Category.CONSULT})
        if category not in allowed:
            names = "、".join(CATEGORY_LABELS[c] for c in sorted(allowed)) or "无"
            got = CATEGORY_LABELS[category] if category else "未分类"
            raise InvalidInput(
                f"「{got}」工单不能即时办结，只有{names}可以 (only these categories may be "
                "closed on the spot under this hotline's policy; dispatch it instead, or set "
                "the category first)",
                error_id="not_on_spot",
            )

    def _check_lead(self, deadlines: Deadlines, step: str, now: datetime) -> None:
        """004: a 延期 is asked at least `extension_lead` before the deadline."""
        lead = self.policy.extension_lead if self.policy else None
        due = getattr(deadlines, f"{step}_by", None)
        if lead is None or lead.amount == 0 or due is None:
            return
        if self.sla.due(lead, now) > due:
            raise InvalidInput(
                f"延期须在时限前至少{lead.label}申请 (an extension must be asked at least "
                f"{lead} before the deadline {due.isoformat()}; it is too late to ask now: "
                "finish the step, or ask a supervisor)",
                error_id="extension_too_late",
            )

    async def split(
        self, ticket_id: int, units: Sequence[str], *, actor: str, role: Role | str
    ) -> list[TicketRecord]:
        """One ticket per unit; each takes the category and topic the transcript gave for its
        unit (the suggestion kept in the history), else the original's."""
        records = await self.store.split(ticket_id, units, actor=actor, role=role, now=self.clock())
        suggested = [e for e in await self.store.history(ticket_id) if e.action == "suggest_split"]
        readings = (
            {r["unit"]: r for r in suggested[-1].detail.get("readings", [])} if suggested else {}
        )
        out = []
        for record in records:
            reading = readings.get(record.ticket.unit)
            t = record.ticket
            if reading and (reading["category"], reading["topic"]) != (t.category, t.topic):
                changes = {"category": reading["category"], "topic": reading["topic"]}
                record = await self.edit(record.id, changes, actor=actor, role=role)
            out.append(record)
        return out
