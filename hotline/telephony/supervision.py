"""Supervisors' and agents' hands on the queue, through AMI. The one rule: every action
is checked against the actor's role first, sent to the switch once, and recorded (who,
when, on whom, what the switch answered) whether the switch obeyed or refused; a refusal
comes back as a domain error with a stable id and a Chinese message saying what to do.

Who may do what:
- pause / unpause: a supervisor (or admin) anyone, with any reason; an agent only
  themselves, with a reason from the configured list (`HOTLINE_LIVE__PAUSE_REASONS`);
- log out of a queue (QueueRemove): a supervisor; only dynamic members can be removed
  (app_queue refuses members of queues.conf);
- listen / whisper / barge: a supervisor, on their own phone (`User.phone`): Hotline
  originates that phone into the spy context, which runs `ChanSpy(<agent's channel
  prefix>,<options>)`. A phone that does not answer is hung up by the switch when the
  Originate times out, so nothing is left behind.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from hotline.core.errors import Conflict, HotlineError, InvalidInput, Unavailable
from hotline.core.roles import Role
from hotline.telephony.ami import (
    ActionSender,
    AmiError,
    AmiTimeout,
    AmiUnavailable,
    OriginateResult,
    Originator,
)
from hotline.telephony.live import Activity, LiveSnapshot
from hotline.telephony.supervision_store import ActionEntry, SupervisionStore

log = logging.getLogger(__name__)


class Kind(StrEnum):
    PAUSE = "pause"
    UNPAUSE = "unpause"
    LOGOUT = "logout"
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


class Outcome(StrEnum):
    DONE = "done"
    REFUSED = "refused"  # by the switch
    UNAVAILABLE = "unavailable"  # link down or no answer: not done, retry later


SPY_MODES: tuple[Kind, ...] = (Kind.LISTEN, Kind.WHISPER, Kind.BARGE)
# ChanSpy options: b only bridged calls, q no beep nor name, E end with the spied call,
# S end when nothing is left to spy on; w whisper to the agent, B barge (talk to both).
SPY_OPTIONS: dict[Kind, str] = {Kind.LISTEN: "bqES", Kind.WHISPER: "bqESw", Kind.BARGE: "bqESB"}
SPY_ZH: dict[Kind, str] = {Kind.LISTEN: "监听", Kind.WHISPER: "耳语", Kind.BARGE: "强插"}
MAX_REASON = 64


class NotPermitted(HotlineError):
    """The actor's role does not allow this action (the API answers 403)."""

    error_id = "forbidden"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a user's name, role, the member they are (agents) and their own phone."""

    name: str
    role: Role
    agent: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class SpyCall:
    """A spy call that reached the supervisor's phone."""

    mode: Kind
    agent: str
    phone: str
    channel: str | None
    uniqueid: str | None


@dataclass(frozen=True, slots=True)
class SpyDialPlan:
    context: str = "hotline-spy"
    ring_s: float = 20.0
    caller_id: str = "监听 <hotline-spy>"


class Switch(ActionSender, Originator, Protocol):
    """The AMI client: plain actions and originate."""


class Roster:
    """What the live state knows of agents: the interface of a member named by its name,
    and whether an agent is on a call. Without a live state, it knows nothing."""

    def __init__(self, snapshot: Callable[[], LiveSnapshot] | None = None) -> None:
        self._snapshot = snapshot

    def interface_of(self, agent: str) -> str:
        if self._snapshot is not None:
            for view in self._snapshot().agents:
                if view.is_agent(agent):
                    return view.interface
        return agent

    def on_call(self, interface: str) -> bool | None:
        """True / False when the live state knows the agent, None when it does not."""
        if self._snapshot is None:
            return None
        snap = self._snapshot()
        if not snap.link_up:
            return None
        for view in snap.agents:
            if view.interface == interface:
                return view.activity is Activity.TALKING or bool(view.calls)
        return None


def spy_prefix(interface: str) -> str:
    """ChanSpy's channel prefix for a member's calls: `PJSIP/1001` -> `PJSIP/1001-`
    (so PJSIP/10010's calls do not match); a Local member keeps its `@context`."""
    return interface if interface.endswith("-") else f"{interface}-"


class SupervisionService:
    def __init__(
        self,
        switch: Switch | None,
        store: SupervisionStore,
        *,
        pause_reasons: Sequence[str],
        spy: SpyDialPlan,
        roster: Roster | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._switch = switch
        self.store = store
        self.pause_reasons = tuple(pause_reasons)
        self._spy = spy
        self._roster = roster or Roster()
        self._clock = clock

    # -- pause / unpause / logout ---------------------------------------------------------

    async def pause(
        self, actor: Actor, agent: str | None, reason: str, queue: str | None = None
    ) -> ActionEntry:
        """QueuePause Paused=true with the reason, in one queue or (no queue) all of them."""
        reason = reason.strip()
        interface = self._target(actor, agent, Kind.PAUSE)
        if not reason:
            raise InvalidInput(
                f"示忙需要原因：请从 {'、'.join(self.pause_reasons)} 中选择一个",
                error_id="pause_reason_missing",
            )
        if len(reason) > MAX_REASON:
            raise InvalidInput(
                f"示忙原因过长（最多 {MAX_REASON} 个字）", error_id="pause_reason_long"
            )
        if not actor.role.at_least(Role.SUPERVISOR) and reason not in self.pause_reasons:
            raise InvalidInput(
                f"示忙原因「{reason}」不在可选列表中：请从 {'、'.join(self.pause_reasons)} 中选择",
                error_id="pause_reason_unknown",
            )
        action = {"Action": "QueuePause", "Interface": interface, "Paused": "true"}
        action["Reason"] = reason
        if queue:
            action["Queue"] = queue
        return await self._member_action(actor, Kind.PAUSE, interface, queue, reason, action)

    async def unpause(
        self, actor: Actor, agent: str | None, queue: str | None = None
    ) -> ActionEntry:
        interface = self._target(actor, agent, Kind.UNPAUSE)
        action = {"Action": "QueuePause", "Interface": interface, "Paused": "false"}
        if queue:
            action["Queue"] = queue
        return await self._member_action(actor, Kind.UNPAUSE, interface, queue, None, action)

    async def logout(self, actor: Actor, agent: str, queue: str) -> ActionEntry:
        """QueueRemove: the agent leaves one queue (签出)."""
        self._require_supervisor(actor, Kind.LOGOUT)
        if not queue.strip():
            raise InvalidInput("签出需要指明队列 (queue)", error_id="queue_missing")
        interface = self._target(actor, agent, Kind.LOGOUT)
        action = {"Action": "QueueRemove", "Queue": queue, "Interface": interface}
        return await self._member_action(actor, Kind.LOGOUT, interface, queue, None, action)

    async def _member_action(
        self,
        actor: Actor,
        kind: Kind,
        interface: str,
        queue: str | None,
        reason: str | None,
        action: dict[str, str],
    ) -> ActionEntry:
        switch = self._link()
        try:
            reply = await switch.send_action(action)
        except (AmiUnavailable, AmiTimeout) as exc:
            await self._record(actor, kind, interface, queue, reason, Outcome.UNAVAILABLE, str(exc))
            raise _unavailable(exc) from exc
        except AmiError as exc:
            said = exc.said or exc.message
            await self._record(actor, kind, interface, queue, reason, Outcome.REFUSED, said)
            raise refusal(kind, interface, queue, said) from exc
        log.info("%s by %s: %s %s (%s)", kind, actor.name, interface, queue or "", reply.message)
        return await self._record(
            actor, kind, interface, queue, reason, Outcome.DONE, reply.message
        )

    # -- listen / whisper / barge ---------------------------------------------------------

    async def spy(self, actor: Actor, agent: str, mode: Kind) -> SpyCall:
        """Ring the supervisor's own phone; once answered it hears (and with whisper or
        barge, speaks into) the agent's current call."""
        if mode not in SPY_MODES:
            raise InvalidInput(
                f"未知的监听方式 {mode}：listen、whisper 或 barge", error_id="spy_mode"
            )
        self._require_supervisor(actor, mode)
        interface = self._target(actor, agent, mode)
        phone = (actor.phone or "").strip()
        if not phone:
            raise InvalidInput(
                f"您的账号没有登记话机，无法{SPY_ZH[mode]}：请管理员运行 "
                f"`hotline users phone {actor.name} PJSIP/<分机号>` 登记您的话机",
                error_id="no_phone",
            )
        if self._roster.on_call(interface) is False:
            await self._record(actor, mode, interface, None, None, Outcome.REFUSED, "no call")
            raise Conflict(
                f"坐席 {interface} 当前没有通话，无法{SPY_ZH[mode]}：请在坐席通话时再试",
                error_id="agent_not_on_call",
            )
        switch = self._link()
        action_id = f"hotline-spy-{uuid.uuid4().hex[:12]}"
        try:
            result = await switch.originate(
                channel=phone,
                context=self._spy.context,
                exten="s",
                caller_id=self._spy.caller_id,
                variables={
                    "HOTLINE_SPY_TARGET": spy_prefix(interface),
                    "HOTLINE_SPY_OPTIONS": SPY_OPTIONS[mode],
                    "HOTLINE_SPY_AGENT": interface,
                },
                timeout_s=self._spy.ring_s,
                action_id=action_id,
            )
        except (AmiUnavailable, AmiTimeout) as exc:
            await self._record(actor, mode, interface, None, None, Outcome.UNAVAILABLE, str(exc))
            raise _unavailable(exc) from exc
        except AmiError as exc:
            said = exc.said or exc.message
            await self._record(actor, mode, interface, None, None, Outcome.REFUSED, said)
            raise Conflict(
                f"交换机拒绝呼叫您的话机 {phone}（{said}）：请检查登记的话机是否正确",
                error_id="spy_refused",
            ) from exc
        detail = f"{phone}: {result.reason_text}" + (f" {result.channel}" if result.channel else "")
        if not result.success:
            await self._record(actor, mode, interface, None, None, Outcome.REFUSED, detail)
            raise _spy_failed(mode, phone, result)
        await self._record(actor, mode, interface, None, None, Outcome.DONE, detail)
        return SpyCall(mode, interface, phone, result.channel, result.uniqueid)

    # -- helpers --------------------------------------------------------------------------

    def _target(self, actor: Actor, agent: str | None, kind: Kind) -> str:
        """The member's interface; an agent may only name themselves."""
        own = actor.agent
        wanted = (agent or "").strip() or own
        if not wanted:
            raise InvalidInput(
                "请指明坐席 (agent)：您的账号没有绑定坐席，无法操作自己",
                error_id="agent_missing",
            )
        if not actor.role.at_least(Role.SUPERVISOR):
            if kind not in (Kind.PAUSE, Kind.UNPAUSE):
                self._require_supervisor(actor, kind)
            if own is None or wanted not in (own, self._roster.interface_of(own)):
                raise NotPermitted(
                    f"坐席只能为自己示忙或取消示忙；为他人（{wanted}）操作请联系班长",
                )
        return self._roster.interface_of(wanted)

    @staticmethod
    def _require_supervisor(actor: Actor, kind: Kind) -> None:
        if not actor.role.at_least(Role.SUPERVISOR):
            what = SPY_ZH.get(kind) or {Kind.LOGOUT: "签出坐席"}.get(kind, str(kind))
            raise NotPermitted(f"权限不足：{what}需要班长 (supervisor) 或以上角色")

    def _link(self) -> Switch:
        if self._switch is None:
            raise Unavailable(
                "未配置交换机，无法操作：请设置 HOTLINE_AMI__HOST、HOTLINE_AMI__USERNAME 和 "
                "HOTLINE_AMI__SECRET",
                error_id="switch_not_configured",
            )
        return self._switch

    async def _record(
        self,
        actor: Actor,
        kind: Kind,
        interface: str,
        queue: str | None,
        reason: str | None,
        outcome: Outcome,
        detail: str | None,
    ) -> ActionEntry:
        return await self.store.add(
            at=self._clock(),
            actor=actor.name,
            actor_role=actor.role.value,
            action=kind.value,
            agent=interface,
            queue=queue,
            reason=reason,
            outcome=outcome.value,
            detail=detail,
        )


def refusal(kind: Kind, interface: str, queue: str | None, said: str) -> HotlineError:
    """app_queue's refusal (its manager messages) as a domain error a person can act on."""
    low = said.lower()
    where = f"队列 {queue}" if queue else "任何队列"
    if "no such queue" in low:
        return InvalidInput(
            f"交换机上没有队列 {queue}（{said}）：请检查队列名称", error_id="no_such_queue"
        )
    if "interface not found" in low or "not there" in low:
        return Conflict(
            f"坐席 {interface} 不在{where}中（交换机：{said}）：请确认坐席已签入，或检查分机号",
            error_id="agent_not_in_queue",
        )
    if "not dynamic" in low:
        return Conflict(
            f"坐席 {interface} 是 queues.conf 中的静态成员，交换机不允许签出（{said}）："
            "请改为动态签入 (QueueAdd)，或改用示忙",
            error_id="member_is_static",
        )
    return Conflict(
        f"交换机拒绝了此操作（{said}）：请检查坐席和队列后重试", error_id="switch_refused"
    )


def _unavailable(exc: AmiError | AmiUnavailable) -> Unavailable:
    return Unavailable(
        f"与交换机的连接中断或未应答，操作可能未执行（{exc}）：请稍后刷新状态后重试",
        error_id="switch_unavailable",
    )


def _spy_failed(mode: Kind, phone: str, result: OriginateResult) -> HotlineError:
    if result.reason_code in (1, 3, 5, 8):
        return Conflict(
            f"您的话机 {phone} 未接听（{result.reason_text}），{SPY_ZH[mode]}未建立："
            "请接听来电后重试",
            error_id="spy_not_answered",
        )
    return Conflict(
        f"无法呼叫您的话机 {phone}（{result.reason_text}）：请确认话机已注册到交换机",
        error_id="spy_phone_unreachable",
    )
