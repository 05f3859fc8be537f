"""Alerts on the live stream: supervisors get `alert/*` (an urgent ticket is announced on
their open pages the moment it is raised); an agent's stream does not carry them."""

from __future__ import annotations

import json

from hotline.api.live_feed import LiveFeed, View
from hotline.api.users import Role, User
from hotline.core.bus import Message

URGENT = {"ticket_id": 7, "caller": "13700137000", "topic": "燃气泄漏", "unit": "抢修中心"}


def _event(text: str) -> tuple[str, object]:
    """(event, data) of one Server-Sent Events message as the stream writes it."""
    fields = dict(line.split(": ", 1) for line in text.strip().splitlines() if ": " in line)
    return fields["event"], json.loads(fields["data"])


async def test_supervisors_get_alerts_and_agents_do_not() -> None:
    feed = LiveFeed()
    boss = feed.open(View(User(2, "chen", Role.SUPERVISOR, None)))
    agent = feed.open(View(User(1, "wang", Role.AGENT, "PJSIP/1001")))
    await feed.handle(Message("alert/urgent_ticket", URGENT))
    await feed.handle(Message("alert/ticket_overdue", {"ticket_id": 8, "steps": ["dispatch"]}))
    got = [_event(boss.queue.get_nowait()) for _ in range(boss.queue.qsize())]
    assert got == [
        ("alert/urgent_ticket", URGENT),
        ("alert/ticket_overdue", {"ticket_id": 8, "steps": ["dispatch"]}),
    ]
    assert agent.queue.empty()
