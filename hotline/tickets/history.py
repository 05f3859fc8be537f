"""A ticket's history rows. Rule: every change of a ticket is written with one row built
here (who, when, action, from, to, why, and the detail as JSON), in the change's own
transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hotline.core.roles import Role
from hotline.tickets.model import State
from hotline.tickets.records import jsonable
from hotline.tickets.tables import TicketEventRow


def history_row(
    ticket_id: int,
    at: datetime,
    actor: str,
    role: Role | str,
    action: str,
    from_state: State | None,
    to_state: State | None,
    *,
    reason: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> TicketEventRow:
    return TicketEventRow(
        ticket_id=ticket_id,
        at=at,
        actor=actor,
        role=str(role),
        action=action,
        from_state=from_state.value if from_state else None,
        to_state=to_state.value if to_state else None,
        reason=reason,
        detail=json.dumps(jsonable(dict(detail or {})), ensure_ascii=False),
    )
