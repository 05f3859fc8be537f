"""The customer of a call and the identity check before account details. Rule: account
details of a call's customer are given only after an identity check of that call, for that
customer, passed; every check and every disclosure is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from hotline.core.errors import HotlineError, InvalidInput
from hotline.customers.model import (
    DETAIL_LABELS,
    CallLink,
    Candidate,
    Customer,
    IdentityCheck,
    IdentityPolicy,
    LinkSource,
    candidates,
    spoken_accounts,
)
from hotline.customers.store import CustomerStore


class IdentityRequired(HotlineError):
    """Account details asked for before the caller's identity was checked."""

    error_id = "identity_not_checked"


@dataclass(frozen=True, slots=True)
class CallCustomer:
    """What the agent sees of a call's customer before the identity check."""

    call_id: str
    link: CallLink | None
    customer: Customer | None  # the linked one
    candidates: tuple[Candidate, ...]
    checks: tuple[IdentityCheck, ...]

    @property
    def verified(self) -> bool:
        return self.customer is not None and any(
            c.passed and c.customer_id == self.customer.id for c in self.checks
        )


class CustomerDesk:
    def __init__(self, store: CustomerStore, policy: IdentityPolicy) -> None:
        self.store = store
        self.policy = policy

    async def for_call(
        self, call_id: str, caller_number: str | None, customer_said: Sequence[str] = ()
    ) -> CallCustomer:
        """The call's customer: the stored link, else the one customer its number or a 户号
        the caller said names (linked, unconfirmed); several are candidates for the agent."""
        link = await self.store.link(call_id)
        by_spoken = await self.store.by_accounts(spoken_accounts(customer_said))
        by_number = await self.store.by_number(caller_number) if caller_number else []
        found = candidates(by_number, by_spoken)
        if link is None or not link.confirmed:
            pick = _only(found)
            if pick is not None and (link is None or link.customer_id != pick.customer.id):
                link = await self.store.set_link(
                    call_id, pick.customer.id, pick.source, confirmed=False, by=None, at=_now()
                )
        customer = None
        if link is not None and link.customer_id is not None:
            customer = next((c.customer for c in found if c.customer.id == link.customer_id), None)
            customer = customer or await self.store.get(link.customer_id)
        checks = tuple(await self.store.identity_checks(call_id))
        return CallCustomer(call_id, link, customer, tuple(found), checks)

    async def confirm(self, call_id: str, customer_id: int | None, *, agent: str) -> CallLink:
        """The agent says who the caller is (None: not a customer of the file)."""
        return await self.store.set_link(
            call_id, customer_id, LinkSource.AGENT, confirmed=True, by=agent, at=_now()
        )

    async def check_identity(
        self,
        call_id: str,
        *,
        agent: str,
        confirmed: Sequence[str],
        could_not: bool,
        note: str | None = None,
    ) -> IdentityCheck:
        link = await self.store.link(call_id)
        if link is None or link.customer_id is None:
            raise InvalidInput(
                "本通话还没有关联客户档案：请先确认来电客户，再核实身份 (link the call to a "
                "customer first)",
                error_id="no_customer_linked",
            )
        if not could_not and not confirmed:
            raise InvalidInput(
                "请勾选客户已核对无误的预留信息，或选择「无法核实」 (say which details matched)"
            )
        passed, counted = self.policy.judge(confirmed, could_not)
        return await self.store.record_identity(
            call_id,
            link.customer_id,
            agent=agent,
            at=_now(),
            passed=passed,
            confirmed=counted,
            note=(note or "").strip()[:500] or None,
        )

    async def account(self, call_id: str, *, agent: str) -> Customer:
        """The full file of the call's customer, once the identity check passed (audited)."""
        state = await self.for_call(call_id, None)
        if state.customer is None:
            raise InvalidInput(
                "本通话还没有关联客户档案：请先确认来电客户 (no customer linked)",
                error_id="no_customer_linked",
            )
        if not state.verified:
            need = "、".join(DETAIL_LABELS[d] for d in self.policy.details)
            raise IdentityRequired(
                f"未通过身份核实，不能查看账户信息：请先向来电人核对预留信息（{need}中至少"
                f"{self.policy.required}项）并记录核实结果 (identity not checked for this call)"
            )
        await self.store.audit(
            agent, "view_account", _now(), customer_id=state.customer.id, call_id=call_id
        )
        return state.customer


def _only(found: Sequence[Candidate]) -> Candidate | None:
    spoken = [c for c in found if c.source is LinkSource.SPOKEN]
    if len(spoken) == 1:
        return spoken[0]
    return found[0] if len(found) == 1 else None


def _now() -> datetime:
    return datetime.now(UTC)
