"""Call scenarios placed on the test switch, and the recorder of their raw AMI stream.

The one rule: a scenario is only an AMI Originate into the real deploy dialplan; what
happens after is decided by the simulator contexts (see tests/switch/asterisk.py) and
observed, never faked.

Run all scenarios at once and save the wire bytes for pure replay tests:

    .venv/bin/python -m tests.switch.scenarios --record tests/data/asterisk22-scenarios.raw
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panoramisk import Manager

from tests.switch.asterisk import Asterisk, ensure_chroot

HOTLINE_NUMBER = "12345"  # the DNIS the trunk would deliver to hotline-inbound


@dataclass(frozen=True)
class Scenario:
    name: str
    number: str
    caller_name: str
    variables: tuple[str, ...]
    context: str = "hotline-inbound"
    exten: str = HOTLINE_NUMBER

    def originate(self, action_id: str) -> dict[str, Any]:
        return {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": f"Local/{self.number}@sim-pstn",
            "Context": self.context,
            "Exten": self.exten,
            "Priority": "1",
            "CallerID": f'"{self.caller_name}" <{self.number}>',
            "Timeout": "30000",
            "Async": "true",
            "Variable": list(self.variables),
        }


SCENARIOS: tuple[Scenario, ...] = (
    # agent answers after ~3 s, talks 2 s, agent hangs up normally
    Scenario("fast", "13800000001", "张三", ("HOTLINE_QUEUE=hotline-fast", "__SIM_AGENT_TALK=2")),
    # agent answers after ~20 s (beyond 3 rings)
    Scenario("slow", "13800000002", "李四", ("HOTLINE_QUEUE=hotline-slow", "__SIM_AGENT_TALK=2")),
    # first member rings out after 5 s, the second answers 2 s after being called
    Scenario("two", "13800000003", "王五", ("HOTLINE_QUEUE=hotline-two", "__SIM_AGENT_TALK=2")),
    # the customer hangs up after 5 s of waiting
    Scenario(
        "abandon", "13800000004", "赵六", ("HOTLINE_QUEUE=hotline-slow", "SIM_HANGUP_AFTER=5")
    ),
    # Queue() gives up after 4 s; the dialplan goes on and hangs up
    Scenario(
        "timeout", "13800000007", "周八", ("HOTLINE_QUEUE=hotline-slow", "HOTLINE_QUEUE_TIMEOUT=4")
    ),
    # answered, then the customer's line drops (cause 38) 9 s after the call began; at 6 s,
    # under load, the drop could race the bridge, and app_queue then sent no AgentComplete
    Scenario(
        "drop",
        "13800000005",
        "钱七",
        ("HOTLINE_QUEUE=hotline-fast", "SIM_HANGUP_AFTER=9", "SIM_HANGUP_CAUSE=38"),
    ),
    # answered, then the agent's line drops (cause 38) after 2 s of talk
    Scenario(
        "agent_drop",
        "13800000006",
        "孙九",
        ("HOTLINE_QUEUE=hotline-fast", "__SIM_AGENT_TALK=2", "__SIM_AGENT_HANGUP_CAUSE=38"),
    ),
    # Hotline calls a customer back into the queue
    Scenario(
        "callback",
        "13800000008",
        "吴十",
        ("HOTLINE_QUEUE=hotline-fast", "__SIM_AGENT_TALK=2", "HOTLINE_CALLBACK_ID=cb-0001"),
        context="hotline-callback",
        exten="s",
    ),
)


@dataclass
class ScenarioRun:
    scenario: Scenario
    originate_response: dict[str, str]
    events: list[dict[str, str]] = field(default_factory=list)

    @property
    def uniqueid(self) -> str:
        """The customer call: the ;1 half that runs the hotline dialplan."""
        return self.originate_response["Uniqueid"]

    @property
    def linkedid(self) -> str:
        return self.uniqueid  # the ;1 half is the first channel of the call

    def named(self, event: str, **match: str) -> list[dict[str, str]]:
        return [
            e
            for e in self.events
            if e.get("Event") == event and all(e.get(k) == v for k, v in match.items())
        ]

    def one(self, event: str, **match: str) -> dict[str, str]:
        found = self.named(event, **match)
        assert len(found) == 1, (
            f"{self.scenario.name}: expected one {event} {match}, got "
            f"{found}\nall: {[e.get('Event') for e in self.events]}"
        )
        return found[0]

    def caller_hangup(self) -> dict[str, str]:
        return self.one("Hangup", Uniqueid=self.uniqueid)

    def var(self, name: str) -> list[str]:
        return [e["Value"] for e in self.named("VarSet", Uniqueid=self.uniqueid, Variable=name)]


class RawRecorder:
    """A second AMI login that keeps every byte Asterisk sends (banner + frames, CRLF)."""

    def __init__(self, port: int, username: str, secret: str) -> None:
        self.port, self.username, self.secret = port, username, secret
        self.data = bytearray()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def start(self) -> None:
        reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._task = asyncio.create_task(self._read(reader))
        self._writer.write(
            f"Action: Login\r\nActionID: recorder-login\r\nUsername: {self.username}\r\n"
            f"Secret: {self.secret}\r\nEvents: on\r\n\r\n".encode()
        )
        await self._writer.drain()
        deadline = time.monotonic() + 5
        while b"Authentication accepted" not in self.data:
            if time.monotonic() > deadline:
                raise RuntimeError(f"recorder login failed: {bytes(self.data)!r}")
            await asyncio.sleep(0.02)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            self.data.extend(chunk)

    async def stop(self) -> bytes:
        if self._writer is not None:
            self._writer.write(b"Action: Logoff\r\nActionID: recorder-logoff\r\n\r\n")
            await self._writer.drain()
            await asyncio.sleep(0.3)
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
        return bytes(self.data)


async def connect_manager(
    asterisk: Asterisk, events: list[dict[str, str]] | None = None, timeout: float = 10
) -> Manager:
    """Log in with panoramisk; every event goes into `events` through a plain callback."""
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host="127.0.0.1",
        port=asterisk.ami_port,
        username=asterisk.ami_username,
        secret=asterisk.ami_secret,
        ping_delay=60,
        ping_interval=60,
    )
    if events is not None:

        def keep(_manager: Manager, message: Any) -> None:  # sync: panoramisk rule
            events.append(dict(message))

        manager.register_event("*", keep)
    await asyncio.wait_for(manager.connect(), timeout)
    deadline = time.monotonic() + timeout
    while manager.authenticated_future is None and not manager.authenticated:
        await asyncio.sleep(0.01)
    if manager.authenticated_future is not None:
        await asyncio.wait_for(asyncio.shield(manager.authenticated_future), timeout)
    while not manager.authenticated:
        if time.monotonic() > deadline:
            raise RuntimeError("AMI login was refused")
        await asyncio.sleep(0.01)
    return manager


async def originate(
    manager: Manager, action: dict[str, Any], timeout: float = 40
) -> dict[str, str]:
    """Send an Async Originate and return its OriginateResponse event.

    panoramisk hands events carrying a pending ActionID to that action, not to the
    event callbacks, so the OriginateResponse arrives as the second item of the result.
    """
    result = await asyncio.wait_for(manager.send_action(action), timeout)
    messages = result if isinstance(result, list) else [result]
    for m in messages:
        if m.get("Event") == "OriginateResponse":
            return dict(m)
    raise AssertionError(
        f"Originate {action['ActionID']} got no OriginateResponse: {[dict(m) for m in messages]}"
    )


async def quiet_switch(asterisk: Asterisk, timeout: float = 15) -> None:
    """Hang up what earlier tests left up (a 回访 still queued…), so a run sees only its own
    calls."""
    await asyncio.to_thread(asterisk.cli, "channel request hangup all")
    deadline = time.monotonic() + timeout
    while True:
        out = await asyncio.to_thread(asterisk.cli, "core show channels count")
        if "0 active channels" in out:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the switch still has channels after {timeout} s:\n{out}")
        await asyncio.sleep(0.25)


async def run_scenarios(
    asterisk: Asterisk,
    scenarios: tuple[Scenario, ...] = SCENARIOS,
    timeout: float = 60,
    record: bool = False,
    grace: float = 10,
) -> tuple[dict[str, ScenarioRun], bytes]:
    """Place all scenarios at once on a quiet switch; return their events once every channel
    is gone and every answered call has its AgentComplete (app_queue sends it through Stasis,
    so on a busy switch it can follow the last Hangup; `grace` seconds are allowed for it)."""
    await quiet_switch(asterisk)
    events: list[dict[str, str]] = []
    recorder = RawRecorder(asterisk.ami_port, asterisk.ami_username, asterisk.ami_secret)
    if record:
        await recorder.start()
    manager = await connect_manager(asterisk, events)
    try:
        pending = []
        for sc in scenarios:
            pending.append(asyncio.create_task(originate(manager, sc.originate(f"sim-{sc.name}"))))
            await asyncio.sleep(0.2)  # keeps the capture readable; the calls still overlap
        responses = await asyncio.gather(*pending)
        runs = {sc.name: ScenarioRun(sc, r) for sc, r in zip(scenarios, responses, strict=True)}

        def unfinished(*, complete: bool) -> set[str]:
            """Scenarios with a channel still up, or (`complete`) answered without an
            AgentComplete yet."""
            live: dict[str, int] = defaultdict(int)
            seen: dict[str, set[str]] = defaultdict(set)
            for e in events:
                lid, name = e.get("Linkedid", ""), e.get("Event", "")
                seen[lid].add(name)
                live[lid] += {"Newchannel": 1, "Hangup": -1}.get(name, 0)
            return {
                r.scenario.name
                for r in runs.values()
                if "Hangup" not in (names := seen[r.linkedid])
                or live[r.linkedid] > 0
                or (complete and "AgentConnect" in names and "AgentComplete" not in names)
            }

        deadline = time.monotonic() + timeout
        while left := unfinished(complete=False):
            if time.monotonic() > deadline:
                linked = {runs[name].linkedid: name for name in left}
                seen = [
                    f"{linked[e.get('Linkedid', '')]}: {e.get('Event')} {e.get('Channel')}"
                    for e in events
                    if e.get("Linkedid") in linked and e.get("Event") != "VarSet"
                ]
                raise AssertionError(
                    f"scenarios {sorted(left)} still up after {timeout} s; their events:\n"
                    + "\n".join(seen)
                    + "\n"
                    + asterisk.cli("core show channels")
                )
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + grace  # a test that needs it says so if it never came
        while unfinished(complete=True) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # trailing events (MixMonitor, VarSet) of the last hangups
        for e in events:
            lid = e.get("Linkedid")
            for run in runs.values():
                if lid == run.linkedid:
                    run.events.append(e)
        return runs, await recorder.stop() if record else b""
    finally:
        manager.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--record", type=Path, required=True, help="where to write the .raw")
    args = parser.parse_args()
    ensure_chroot()
    asterisk = Asterisk(name="record")
    asterisk.start()
    try:
        runs, raw = asyncio.run(run_scenarios(asterisk, record=True))
    finally:
        asterisk.stop()
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_bytes(raw)
    for run in runs.values():
        print(f"{run.scenario.name:11s} {run.uniqueid:18s} {len(run.events)} events")
    print(f"wrote {len(raw)} bytes to {args.record}")


if __name__ == "__main__":
    main()
