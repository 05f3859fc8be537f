"""Chinese names of the values pages show. Rule: one table per value kind, and an unknown
value is shown as it is rather than hidden."""

from __future__ import annotations

from hotline.api.users import Role

ROLES = {
    Role.UNIT: "承办单位",
    Role.AGENT: "坐席",
    Role.INSPECTOR: "质检员",
    Role.SUPERVISOR: "班长",
    Role.ADMIN: "管理员",
}

OUTCOMES = {
    "in_progress": "通话中",
    "answered": "已接通",
    "dropped": "断线",
    "abandoned": "放弃",
    "no_agent": "无人接听",
    "not_queued": "未进队列",
    "end_unknown": "结束未知",
}

DIRECTIONS = {"inbound": "呼入", "callback": "回拨"}

HANGUP_BY = {"caller": "客户", "agent": "坐席", "system": "系统", "unknown": "未知"}

RECORDING_STATUS = {
    "pending": "待归档",
    "archived": "已归档",
    "failed": "归档失败",
    "purged": "已清除",
}

TRANSCRIPT_STATUS = {
    "pending": "转写排队中",
    "done": "已转写",
    "failed": "转写失败",
    "no_model": "未配置语音识别模型",
}

CHANNELS = {"customer": "客户", "agent": "坐席", "mixed": "混合"}

AUDIT_ACTIONS = {
    "play": "播放",
    "download": "下载",
    "hold": "法律保全",
    "release": "解除保全",
    "important": "标记重要",
    "unimportant": "取消重要",
    "retention": "修改保存期限",
    "purge": "清除",
    "purge_failed": "清除失败",
    "retry": "重试归档",
}


def label(table: dict[str, str], value: object) -> str:
    if value is None:
        return "—"
    key = str(value)
    return table.get(key, key)
