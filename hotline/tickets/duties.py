"""Separation of duties on tickets. Rule: nobody closes a complaint against themselves or
enters the 回访 satisfaction of their own ticket; who someone is, for this, is their user
name, the queue member they answer as and their 工号.

Pure: the service asks `refusal(...)` before it changes anything and raises what it returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotline.core.errors import NotAllowed
from hotline.tickets.lifecycle import Action
from hotline.tickets.model import Category, Ticket

CLOSING = frozenset({Action.CLOSE, Action.CLOSE_OUT_OF_SCOPE})
_LAST_DIGITS = re.compile(r"(\d+)(?!.*\d)")  # 8001 in PJSIP/8001 (the default 工号 rule)


@dataclass(frozen=True, slots=True)
class Actor:
    """A person acting on a ticket: user name, the member they answer as, their 工号."""

    name: str
    agent: str | None = None
    number: str | None = None

    def owns(self, ticket: Ticket) -> bool:
        """The ticket is from a call this person answered (首问: its agent)."""
        return self.agent is not None and ticket.agent == self.agent

    @property
    def job_number(self) -> str | None:
        """Their 工号: as given, else the last digits of the member they answer as."""
        if self.number:
            return self.number
        found = _LAST_DIGITS.search(self.agent or "")
        return found.group(1) if found else None

    def named_in(self, ticket: Ticket) -> bool:
        """The complaint names this person: their name or 工号 in its summary or topic."""
        text = f"{ticket.summary or ''} {ticket.topic or ''}"
        number = self.job_number
        marks = [self.name] + ([number] if number and len(number) >= 3 else [])
        return any(m and m in text for m in marks)


def refusal(
    ticket: Ticket, action: Action | None, actor: Actor, *, satisfaction: bool = False
) -> NotAllowed | None:
    """Why `actor` may not do this to `ticket`, or None."""
    if satisfaction and actor.owns(ticket):
        return NotAllowed(
            f"不能为自己受理的工单 {ticket.id} 录入回访满意度，请由其他回访人员回访 (the "
            "satisfaction of a ticket is entered by someone other than its own agent)",
            error_id="own_satisfaction",
        )
    if action in CLOSING and ticket.category is Category.COMPLAINT and actor.named_in(ticket):
        return NotAllowed(
            f"不能办结针对自己的投诉（工单 {ticket.id}），请交由班长或其他人员处理 (a complaint "
            "about you is closed by someone else)",
            error_id="own_complaint",
        )
    return None
