"""The ticket service: the one object the API, the pipeline and the CLI hold for 工单.

Rule: it only wires and forwards. Each reason to change lives in its own part:
`drafting` (a draft per answered call, refined from the transcript; levels, urgent and
calendar alerts), `actions` (people's edits, lifecycle moves, extensions, splits),
`followups` (回访, dialled through the telephony `Dialler`), `intake` (tickets from every
other channel) and `watch` (overdue deadlines and due 回访, in a loop), all under one
`HotlinePolicy` (tickets/policy.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hotline.asr.transcript import Transcript
from hotline.core.bus import Bus
from hotline.core.errors import VersionConflict
from hotline.core.periods import Period
from hotline.telephony.ami import Originator
from hotline.telephony.dialler import Dialler, DialPlan
from hotline.telephony.model import CallRecord
from hotline.tickets import classify, duties, sla
from hotline.tickets.actions import Actions
from hotline.tickets.attachments import Attachment, Attachments
from hotline.tickets.drafting import Drafting, RecordingLookup
from hotline.tickets.followup import FollowupPolicy
from hotline.tickets.followups import Followups
from hotline.tickets.intake import Intake
from hotline.tickets.lifecycle import Action, Role
from hotline.tickets.policy import HotlinePolicy
from hotline.tickets.records import TicketRecord
from hotline.tickets.store import TicketStore
from hotline.tickets.watch import Watch

# How a 回访 is dialled (see deploy/asterisk: [hotline-followup]).
FOLLOWUP_DIALPLAN = DialPlan(context="hotline-followup")


class TicketService:
    def __init__(
        self,
        store: TicketStore,
        bus: Bus,
        *,
        sla_policy: sla.SlaPolicy,
        followup_policy: FollowupPolicy,
        pack: Callable[[], classify.ClassifyPack],
        recordings: RecordingLookup | None = None,
        originator: Originator | None = None,
        dialplan: DialPlan = FOLLOWUP_DIALPLAN,
        overdue_check_s: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        policy: HotlinePolicy | None = None,
        attachments_root: Path | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.policy = policy or HotlinePolicy.of(sla_policy, followup_policy)
        self.clock = clock  # the parts read it through `_now`, so it can be replaced later
        clock = self._now
        self.drafting = Drafting(
            store,
            bus,
            sla_policy=sla_policy,
            pack=pack,
            recordings=recordings,
            clock=clock,
            on_spot=self.policy.on_spot,
        )
        self.actions = Actions(
            store, bus, self.drafting, sla_policy=sla_policy, clock=clock, policy=self.policy
        )
        self.followups = Followups(
            store,
            self.actions,
            Dialler(originator, dialplan),
            policy=followup_policy,
            clock=clock,
            rules=self.policy.followup_rules,
        )
        self.attachments = Attachments(store.sessions, attachments_root or Path("data/archive"))
        self.intake = Intake(store, bus, self.drafting, policy=self.policy, clock=clock)
        self.watch = Watch(store, bus, self.followups, interval_s=overdue_check_s, clock=clock)

    def _now(self) -> datetime:
        return self.clock()

    # --- drafting -------------------------------------------------------------------------

    async def on_call_ended(self, record: CallRecord) -> TicketRecord | None:
        return await self.drafting.on_call_ended(record)

    async def on_transcript(self, recording_id: int, transcript: Transcript) -> TicketRecord | None:
        return await self.drafting.on_transcript(recording_id, transcript)

    async def on_call_transcript(self, call_id: str, transcript: Transcript) -> TicketRecord | None:
        return await self.drafting.on_call_transcript(call_id, transcript)

    async def on_survey_unsatisfied(
        self, call_id: str, caller_number: str | None, rated: str | None, at: datetime
    ) -> TicketRecord:
        return await self.drafting.on_survey_unsatisfied(call_id, caller_number, rated, at)

    # --- people's actions -----------------------------------------------------------------

    async def create(self, **kw: Any) -> TicketRecord:
        """A ticket from any channel (see `Intake.create`)."""
        return await self.intake.create(**kw)

    async def edit(
        self,
        ticket_id: int,
        changes: Mapping[str, Any],
        *,
        actor: str,
        role: Role | str,
        expected_version: int | None = None,
    ) -> TicketRecord:
        await self._guard(ticket_id, expected_version)
        return await self.actions.edit(ticket_id, changes, actor=actor, role=role)

    async def _guard(
        self,
        ticket_id: int,
        version: int | None,
        party: duties.Actor | None = None,
        action: Action | None = None,
        *,
        satisfaction: bool = False,
    ) -> None:
        """Before a change: VersionConflict unless the ticket is still at `version` (None:
        any; the store's own compare-and-set then guards against a writer in between), and
        NotAllowed where the change is the person's own business (tickets.duties)."""
        if version is None and party is None:
            return
        current = await self.store.get(ticket_id)
        if current is None:
            return  # the part that acts says what is missing
        if version is not None and current.version != version:
            raise VersionConflict(f"工单 {ticket_id} ", current.version)
        if party is not None:
            refused = duties.refusal(current.ticket, action, party, satisfaction=satisfaction)
            if refused is not None:
                raise refused

    async def act(
        self,
        ticket_id: int,
        action: Action | str,
        *,
        actor: str,
        role: Role | str,
        reason: str | None = None,
        data: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
        party: duties.Actor | None = None,
    ) -> TicketRecord:
        act = next((a for a in Action if a.value == action), None)  # unknown: actions says
        sat = bool(data and data.get("satisfaction"))
        await self._guard(ticket_id, expected_version, party, act, satisfaction=sat)
        return await self.actions.act(
            ticket_id, action, actor=actor, role=role, reason=reason, data=data
        )

    async def judge(self, ticket_id: int, validity: str, **kw: Any) -> TicketRecord:
        """投诉认定 (see `Actions.judge`)."""
        return await self.actions.judge(ticket_id, validity, **kw)

    async def split(
        self, ticket_id: int, units: Sequence[str], *, actor: str, role: Role | str
    ) -> list[TicketRecord]:
        return await self.actions.split(ticket_id, units, actor=actor, role=role)

    # --- attachments ---------------------------------------------------------------------

    async def attach(
        self, ticket_id: int, name: str, data: bytes, *, actor: str, role: Role | str
    ) -> Attachment:
        """A photo or document for the ticket (size- and type-checked, nothing half-stored)."""
        await self.store.require(ticket_id)
        return await self.attachments.add(
            ticket_id, name, data, by=actor, role=str(role), now=self.clock()
        )

    # --- checks of outcomes ---------------------------------------------------------------

    async def draw_verification(self, period: Period) -> int:
        """Draw the policy's share of the period's closed tickets for a check (003: 20 % of
        the repairs each quarter)."""
        v = self.policy.verification
        return await self.store.draw_verification(period, v.share, v.categories, self.clock())

    async def record_verification(
        self, ticket_id: int, *, passed: bool, note: str, actor: str, role: Role | str
    ) -> TicketRecord:
        await self.store.record_verification(
            ticket_id, passed=passed, note=note, actor=actor, role=str(role), now=self.clock()
        )
        return await self.store.require(ticket_id)

    # --- 回访 -------------------------------------------------------------------------------

    async def next_followup_at(self, ticket: TicketRecord) -> datetime | None:
        return await self.followups.next_followup_at(ticket)

    async def record_followup(
        self,
        ticket_id: int,
        *,
        result: str,
        satisfaction: str | None = None,
        note: str | None = None,
        actor: str,
        role: Role | str,
        party: duties.Actor | None = None,
    ) -> TicketRecord:
        await self._guard(ticket_id, None, party, satisfaction=satisfaction is not None)
        return await self.followups.record_followup(
            ticket_id, result=result, satisfaction=satisfaction, note=note, actor=actor, role=role
        )

    async def dial_followup(self, ticket_id: int, *, actor: str, role: Role | str) -> TicketRecord:
        return await self.followups.dial_followup(ticket_id, actor=actor, role=role)

    async def dial_due(self) -> int:
        return await self.followups.dial_due()

    # --- deadlines and the loop -----------------------------------------------------------

    async def check_overdue(self) -> list[TicketRecord]:
        return await self.watch.check_overdue()

    async def tick(self) -> None:
        await self.watch.tick()

    async def run(self) -> None:
        await self.watch.run()
