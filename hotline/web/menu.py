"""The menu, decided by the role. Rule: an entry names the lowest role that may open it,
the same role its page's permission check asks for; a page added by another part of the
workspace adds its one line here."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.api.users import Role, User


@dataclass(frozen=True, slots=True)
class MenuItem:
    label: str
    href: str
    role: Role


MENU: list[MenuItem] = [
    MenuItem("首页", "/", Role.AGENT),
    MenuItem("坐席工作台", "/workspace", Role.AGENT),
    MenuItem("工单", "/tickets", Role.UNIT),  # a unit's 联络员: its units' tickets
    MenuItem("我的质检", "/my/quality", Role.AGENT),
    MenuItem("通话记录", "/calls", Role.AGENT),
    MenuItem("录音检索", "/recordings", Role.AGENT),
    MenuItem("质检", "/quality", Role.AGENT),  # branch review: queue (inspectors), own scores
    MenuItem("实时监控", "/wallboard", Role.SUPERVISOR),  # branch supervisor
    MenuItem("回呼", "/callbacks", Role.SUPERVISOR),  # branch supervisor
    MenuItem("需关注工单", "/attention", Role.SUPERVISOR),  # branch supervisor
    MenuItem("报表", "/reports", Role.SUPERVISOR),  # branch supervisor
    MenuItem("坐席操作记录", "/supervision/actions", Role.SUPERVISOR),  # branch webactions
    MenuItem("知识库", "/knowledge", Role.AGENT),  # issue 16
    MenuItem("停气停水通知", "/notices", Role.AGENT),  # issue 16
    MenuItem("客户档案", "/customers", Role.SUPERVISOR),  # issue 16
    MenuItem("审计日志", "/audit", Role.ADMIN),
]


def menu_for(user: User) -> list[MenuItem]:
    return [item for item in MENU if user.at_least(item.role)]


def current(path: str, item: MenuItem) -> bool:
    if item.href == "/":
        return path == "/"
    return path == item.href or path.startswith(item.href + "/")
