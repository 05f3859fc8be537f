"""The agent workspace's live stream. Rule: it is the live stream (`GET /api/live/events`)
with one addition: an agent also hears of the tickets of their own calls being drafted,
refined or changed (`ticket/*`), as ids only; the page then asks the pages for what it
may see, through the same permission checks as everything else.

The live view (api/live_feed.View) decides everything else, as it does for an agent
whatever the user's role: their own state and the calls offered to or answered by them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from hotline.api.deps import AnyUser, Live
from hotline.api.live_feed import View
from hotline.core.bus import Message

router = APIRouter(include_in_schema=False)

TICKET_PREFIX = "ticket/"
REMEMBERED_CALLS = 200  # calls of this agent whose tickets the stream still announces


@dataclass(slots=True)
class WorkspaceView(View):
    """The live view, plus `ticket/*` of the calls this agent answered (remembered after
    the call ends: the draft is made when it ends, refined after the transcript)."""

    answered: deque[str] = field(default_factory=lambda: deque(maxlen=REMEMBERED_CALLS))

    @property
    def everything(self) -> bool:
        """Never: the workspace pops the user's own calls, whatever their role (the
        supervisors' view of every call is the wallboard's)."""
        return False

    def __call__(self, m: Message) -> dict[str, Any] | None:
        p = m.payload
        if m.topic.startswith(TICKET_PREFIX):
            return self._ticket(p)
        out = View.__call__(self, m)
        if out is not None and m.topic == "call/answered" and p.get("call_id"):
            mine = self.user.agent in (p.get("agent_member"), p.get("agent_interface"))
            if mine and p["call_id"] not in self.answered:
                self.answered.append(p["call_id"])
        return out

    def _ticket(self, p: dict[str, Any]) -> dict[str, Any] | None:
        agent = self.user.agent
        mine = p.get("call_id") in self.answered or (agent is not None and p.get("agent") == agent)
        if not mine:
            return None
        # ids and state only: what the ticket says is read through the ticket pages
        return {k: p.get(k) for k in ("ticket_id", "call_id", "state")}


@router.get("/workspace/events")
async def workspace_events(request: Request, user: AnyUser, live: Live) -> StreamingResponse:
    """Server-Sent Events for the open workspace page (EventSource reconnects by itself)."""
    return live.events(request, WorkspaceView(user))
