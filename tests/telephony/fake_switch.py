"""A small fake of the switch's AMI for the supervision service: app_queue's answers to
QueuePause / QueueRemove (Asterisk 22's messages) and an Originate outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hotline.telephony.ami import ActionReply, AmiError, AmiUnavailable, OriginateResult
from hotline.telephony.frames import Frame


def _frame(*headers: tuple[str, str]) -> Frame:
    return Frame(tuple(headers))


@dataclass
class FakeSwitch:
    # queue -> interface -> dynamic?
    members: dict[str, dict[str, bool]] = field(default_factory=dict)
    paused: dict[str, str | None] = field(default_factory=dict)  # interface -> reason
    originate_code: int = 4  # 4 answered, 3 not answered, 0 failed; -1: refused
    up: bool = True
    actions: list[dict[str, str]] = field(default_factory=list)
    originated: list[dict[str, object]] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return self.up

    async def send_action(
        self, action: Mapping[str, str | list[str]], *, timeout_s: float = 10.0
    ) -> ActionReply:
        if not self.up:
            raise AmiUnavailable("AMI link to fake is down: not sent")
        sent = {k: str(v) for k, v in action.items()}
        self.actions.append(sent)
        name, queue, iface = sent["Action"], sent.get("Queue"), sent.get("Interface", "")
        if name == "QueuePause":
            if not any(iface in m and queue in (None, q) for q, m in self.members.items()):
                raise AmiError("refused", said="Interface not found")
            on = sent["Paused"] == "true"
            self.paused[iface] = sent.get("Reason") if on else None
            word = "paused" if on else "unpaused"
            return ActionReply(
                _frame(("Response", "Success"), ("Message", f"Interface {word} successfully"))
            )
        if name == "QueueRemove":
            if queue not in self.members:
                raise AmiError(
                    "refused", said="Unable to remove interface from queue: No such queue"
                )
            if iface not in self.members[queue]:
                raise AmiError("refused", said="Unable to remove interface: Not there")
            if not self.members[queue][iface]:
                raise AmiError("refused", said="Member not dynamic")
            del self.members[queue][iface]
            return ActionReply(
                _frame(("Response", "Success"), ("Message", "Removed interface from queue"))
            )
        raise AmiError("refused", said="Invalid/unknown command")

    async def originate(
        self,
        *,
        channel: str,
        context: str,
        exten: str,
        priority: int = 1,
        caller_id: str,
        variables: Mapping[str, str],
        timeout_s: float,
        action_id: str,
    ) -> OriginateResult:
        if not self.up:
            raise AmiUnavailable("AMI link to fake is down: Originate was not sent")
        self.originated.append(
            {"channel": channel, "context": context, "exten": exten, "variables": dict(variables)}
        )
        if self.originate_code == -1:
            raise AmiError("refused", said="Originate failed")
        ok = self.originate_code == 4
        return OriginateResult(
            success=ok,
            reason_code=self.originate_code,
            reason_text={4: "answered", 3: "rang, not answered in time", 0: "failed"}.get(
                self.originate_code, "?"
            ),
            uniqueid="1700000000.9" if ok else None,
            channel=f"{channel}-00000009" if ok else None,
            raw=_frame(("Event", "OriginateResponse")),
        )
