from __future__ import annotations

from hotline.api import users
from hotline.core.roles import PEOPLE, Role
from hotline.tickets import lifecycle


def test_roles_are_ordered_agent_inspector_supervisor_admin_then_the_system() -> None:
    order = [Role.UNIT, Role.AGENT, Role.INSPECTOR, Role.SUPERVISOR, Role.ADMIN, Role.SYSTEM]
    assert sorted(Role, key=lambda r: r.rank) == order
    assert Role.SUPERVISOR.at_least("inspector") and not Role.INSPECTOR.at_least(Role.ADMIN)
    assert Role.SYSTEM not in PEOPLE


def test_there_is_one_role_for_users_and_tickets() -> None:
    assert users.Role is Role and lifecycle.Role is Role
