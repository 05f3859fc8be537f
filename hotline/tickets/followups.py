"""回访: the follow-up calls after a unit's reply, by hand or dialled through the switch.

Rule: when an attempt may be made is decided by the pure `followup` policy (never in
quiet hours, the first not before `delay_h` after the reply, `interval_h` apart); an
attempt is stored as begun before anything is dialled, and its result decides the ticket:
满意 closes it, 不满意 reopens it (重办), too many unreachable attempts close it as
「回访无法联系」. Dialling goes through the telephony `Dialler` (one number check, one
Originate).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from hotline.core.errors import InvalidInput, Unavailable
from hotline.telephony.ami import AmiError, AmiUnavailable
from hotline.telephony.dialler import Dialler, UnusableNumber, channel_number
from hotline.tickets import followup
from hotline.tickets.actions import Actions
from hotline.tickets.followup import FollowupPolicy, PastAttempt, Result
from hotline.tickets.lifecycle import Action, Role
from hotline.tickets.model import Satisfaction, State
from hotline.tickets.policy import FollowupRules
from hotline.tickets.records import FollowupAttempt, TicketRecord
from hotline.tickets.store import TicketStore

log = logging.getLogger(__name__)


def _past(attempts: Sequence[FollowupAttempt]) -> list[PastAttempt]:
    return [PastAttempt(a.started_at, Result(a.result)) for a in attempts if a.result]


class Followups:
    def __init__(
        self,
        store: TicketStore,
        actions: Actions,
        dialler: Dialler,
        *,
        policy: FollowupPolicy,
        clock: Callable[[], datetime],
        rules: FollowupRules | None = None,
    ) -> None:
        self.store = store
        self.actions = actions
        self.dialler = dialler
        self.policy = policy
        self.rules = rules
        self.clock = clock

    async def next_followup_at(self, record: TicketRecord) -> datetime | None:
        t = record.ticket
        if t.state not in (State.REPLIED, State.FOLLOW_UP) or t.replied_at is None:
            return None
        return self._next(record, await self.store.followups(t.id, t.reopened))

    def _next(self, record: TicketRecord, attempts: Sequence[FollowupAttempt]) -> datetime | None:
        """When the next attempt is due, given this round's attempts; None when nothing is
        to be dialled."""
        t = record.ticket
        if t.state not in (State.REPLIED, State.FOLLOW_UP) or t.replied_at is None:
            return None
        if record.followup_declined:
            return None  # the customer said 不需要回访
        if any(a.result is None for a in attempts):
            return None  # one in progress
        return followup.next_attempt_at(self.policy, self._start(record), _past(attempts))

    def _watched(
        self, record: TicketRecord, attempts: Sequence[FollowupAttempt]
    ) -> datetime | None:
        """When the watch should next look at the ticket: the next attempt, unless an agent
        makes every 回访 of its channel by hand."""
        if self.rules is not None and self.rules.manual(record.ticket.source):
            return None
        return self._next(record, attempts)

    def _start(self, record: TicketRecord) -> datetime:
        replied = record.ticket.replied_at
        assert replied is not None
        return followup.start(
            self.policy, replied, record.followup_booked_at, record.ticket.reopened
        )

    async def _begin(
        self, record: TicketRecord, *, actor: str, role: Role | str, action_id: str | None = None
    ) -> FollowupAttempt:
        t, now = record.ticket, self.clock()
        if t.state not in (State.REPLIED, State.FOLLOW_UP) or t.replied_at is None:
            raise InvalidInput(
                f"工单尚未回复，不能回访 (a 回访 follows the unit's reply; this ticket is "
                f"{t.state.value})"
            )
        attempts = await self.store.followups(t.id, t.reopened)
        start = self._start(record)
        followup.check_attempt(self.policy, start, _past(attempts), now)
        planned = followup.next_attempt_at(self.policy, start, _past(attempts))
        attempt = await self.store.begin_followup(
            t.id,
            round=t.reopened,
            planned_at=planned,
            started_at=now,
            by=actor,
            action_id=action_id,
        )
        if attempt is None:
            raise InvalidInput("另一回访正在进行 (another 回访 attempt was just started)")
        if t.state is State.REPLIED:
            await self.store.apply(t.id, Action.FOLLOW_UP, actor, role, now=now)
        return attempt

    async def record_followup(
        self,
        ticket_id: int,
        *,
        result: str,
        satisfaction: str | None = None,
        note: str | None = None,
        actor: str,
        role: Role | str,
    ) -> TicketRecord:
        """The result of a 回访 call (by hand, or of one dialled through AMI and answered)."""
        res = followup.parse_result(result)
        sat = Satisfaction(satisfaction) if satisfaction else None
        if res is Result.REACHED and sat is None:
            raise InvalidInput(
                "联系上客户时须记录满意度 (a reached 回访 needs the satisfaction: satisfied, "
                "basically or unsatisfied)"
            )
        record = await self.store.require(ticket_id)
        attempts = await self.store.followups(ticket_id, record.ticket.reopened)
        open_ = next((a for a in attempts if a.result is None), None)
        if open_ is None:
            open_ = await self._begin(record, actor=actor, role=role)
        return await self._finish(ticket_id, open_, res, sat, note, actor, role, None)

    async def _finish(
        self,
        ticket_id: int,
        attempt: FollowupAttempt,
        res: Result,
        sat: Satisfaction | None,
        note: str | None,
        actor: str,
        role: Role | str,
        ami: Mapping[str, Any] | None,
    ) -> TicketRecord:
        now = self.clock()
        await self.store.finish_followup(
            attempt.id, now=now, result=res.value, satisfaction=sat, note=note, ami_response=ami
        )
        detail = {"attempt": attempt.attempt_no, "round": attempt.round, "result": res.value}
        if sat:
            detail["satisfaction"] = sat.value
        await self.store.note(
            ticket_id,
            "followup_attempt",
            actor=actor,
            role=role,
            now=now,
            reason=note,
            detail=detail,
        )
        if res is Result.REACHED and sat is not None:
            move = Action.REOPEN if sat is Satisfaction.UNSATISFIED else Action.CLOSE
            data = {"satisfaction": sat.value}
            rules = self.rules
            if move is Action.REOPEN and rules and rules.unsatisfied == "escalate":
                data["unit"] = rules.escalate_to or ""  # 不满意: to the named department
                data["escalated_to"] = rules.escalate_to or ""
            return await self.actions.act(
                ticket_id, move, actor=actor, role=role, reason=note, data=data
            )
        record = await self.store.require(ticket_id)
        attempts = await self.store.followups(ticket_id, record.ticket.reopened)
        if followup.outcome(self.policy, _past(attempts)) is followup.Outcome.UNREACHABLE:
            return await self.actions.act(
                ticket_id,
                Action.CLOSE,
                actor="system",
                role=Role.SYSTEM,
                reason=followup.UNREACHABLE_REASON,
                data={"unreachable": True},
            )
        await self.store.set_followup_due(ticket_id, self._watched(record, attempts))
        return record

    async def dial_followup(self, ticket_id: int, *, actor: str, role: Role | str) -> TicketRecord:
        """Place a 回访 call through AMI now (if the rule allows it)."""
        if not self.dialler.ready:
            raise Unavailable(
                "未连接交换机，无法自动回访 (AMI is off or not connected: call the customer by "
                "hand and record the result with POST /api/tickets/{id}/followups)"
            )
        record = await self.store.require(ticket_id)
        return await self._dial(record, actor=actor, role=role)

    async def _dial(self, record: TicketRecord, *, actor: str, role: Role | str) -> TicketRecord:
        number = channel_number(record.ticket.caller_number)  # refused before an attempt begins
        action_id = f"hotline-fu-{record.id}-{uuid.uuid4().hex[:12]}"
        attempt = await self._begin(record, actor=actor, role=role, action_id=action_id)
        variables = {"HOTLINE_TICKET_ID": str(record.id), "HOTLINE_FOLLOWUP": action_id}
        try:
            result = await self.dialler.dial(number, variables=variables, action_id=action_id)
        except (AmiError, AmiUnavailable) as exc:  # refused, timed out, or the link dropped
            response: dict[str, Any] = {"error": str(exc)}
            return await self._finish(
                record.id,
                attempt,
                Result.UNREACHABLE,
                None,
                f"呼叫失败 ({exc})",
                actor,
                role,
                response,
            )
        response = {
            "success": result.success,
            "reason_code": result.reason_code,
            "reason_text": result.reason_text,
            "uniqueid": result.uniqueid,
            "channel": result.channel,
        }
        if not result.success:
            return await self._finish(
                record.id,
                attempt,
                Result.UNREACHABLE,
                None,
                result.reason_text,
                actor,
                role,
                response,
            )
        # answered: the agent talks to the customer and records the satisfaction
        await self.store.attach_ami(attempt.id, response)
        await self.store.note(
            record.id,
            "followup_answered",
            actor=actor,
            role=role,
            now=self.clock(),
            detail={"attempt": attempt.attempt_no, "ami": response},
        )
        return await self.store.require(record.id)

    async def due(self, now: datetime) -> list[TicketRecord]:
        """The tickets whose next 回访 attempt is due at `now`. Reads only the tickets whose
        indexed `followup_due` has come; one whose next attempt is later (or never: by
        hand, in progress, over) gets that time written and is not read again until then."""
        rows = await self.store.followups_due(now)
        rounds = await self.store.followups_of([(r.id, r.ticket.reopened) for r, _ in rows])
        due, later = await asyncio.to_thread(self._sort, rows, rounds, now)  # CPU: off the loop
        await self.store.set_followup_dues(later)
        return due

    def _sort(
        self,
        rows: Sequence[tuple[TicketRecord, datetime]],
        rounds: Mapping[tuple[int, int], Sequence[FollowupAttempt]],
        now: datetime,
    ) -> tuple[list[TicketRecord], list[tuple[int, datetime | None, datetime]]]:
        due, later = [], []
        for record, seen in rows:
            at = self._watched(record, rounds.get((record.id, record.ticket.reopened), []))
            if at is not None and at <= now:
                due.append(record)
            else:
                later.append((record.id, at, seen))
        return due, later

    async def dial_due(self) -> int:
        """Dial every 回访 that is due (AMI only); returns how many were placed."""
        if not self.dialler.ready:
            return 0
        placed = 0
        for record in await self.due(self.clock()):
            try:
                await self._dial(record, actor="system", role=Role.SYSTEM)
                placed += 1
            except UnusableNumber as exc:  # the agent calls by hand; said once
                await self.store.set_followup_due(record.id, None)
                log.warning("回访 of ticket %d not dialled: %s", record.id, exc.message)
            except Exception:
                log.exception("回访 of ticket %d could not be placed", record.id)
        return placed
