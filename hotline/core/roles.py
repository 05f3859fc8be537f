"""Who may do what, by rank. Rule: there is one `Role`, ordered unit < agent < inspector <
supervisor < admin < system, and every permission check compares ranks through it.

`unit` is a responsible unit's 联络员: below every hotline role, it sees and acts on only
its units' tickets (the ticket routes and the lifecycle's unit actions say so).

The first four are people (users of the API and the web workspace); `system` is the
service itself, acting on its own (an unreachable 回访, an escalation): no user has it.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    UNIT = "unit"
    AGENT = "agent"
    INSPECTOR = "inspector"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    SYSTEM = "system"

    @property
    def rank(self) -> int:
        return RANK[self]

    def at_least(self, other: Role | str) -> bool:
        return RANK[self] >= RANK[Role(other)]


RANK: dict[Role, int] = {
    Role.UNIT: -1,
    Role.AGENT: 0,
    Role.INSPECTOR: 1,
    Role.SUPERVISOR: 2,
    Role.ADMIN: 3,
    Role.SYSTEM: 4,
}

# the roles a person (a user row) may have
PEOPLE: tuple[Role, ...] = (Role.UNIT, Role.AGENT, Role.INSPECTOR, Role.SUPERVISOR, Role.ADMIN)
