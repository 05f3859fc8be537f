"""Live state: a busy switch's AMI stream through Hotline to 50 open SSE streams.

A synthetic switch (750 agents in 60 queues, about 1,000 channels in progress) speaks AMI
over loopback TCP from a separate "load" process, which also holds 50 real HTTP SSE
clients on `GET /api/live/events` (a supervisor's bearer token). This process runs the
real app under uvicorn: AmiClient -> CallService.run (the one ordered consumer, the live
service its follower) -> LiveState -> bus -> LiveFeed -> the SSE streams.

Every frame carries the time it was sent in its own `Timestamp` header; a change's bus
message keeps that time (`Message.at`), so a client's latency is its arrival time minus
the `at` of the message with that SSE `id:`.

- paced: the stream at `--rate` events/s for `--seconds`: latency p50/p95/p99, per
  delivery and until all clients have it;
- flood: `--flood` events pushed at once: events/s until every client saw the last one;
- baseline, same run, same bytes: panoramisk's Manager alone (receive, read the stamp).

Run: .venv/bin/python benchmarks/live_state.py [--rate 500] [--seconds 20] [--flood 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import re
import socket
import sys
import tempfile
import time
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.telephony.fake_ami import FakeAmi  # noqa: E402

AGENTS, QUEUES, CHANNELS, PAUSED = 750, 60, 1000, 60
WAITING = 100  # callers waiting in the queues in the steady state
CLIENTS = 50
MARKER = "bench-end"  # the pause reason of the flood's last frame
REASONS = ("小休", "用餐", "培训")
ID = re.compile(rb"(?:^|\n)id: (\d+)\n")

# -- the synthetic switch ----------------------------------------------------------------


def _frame(*headers: tuple[str, object]) -> str:
    """A frame without its Timestamp and final blank line (stamped when sent)."""
    return "".join(f"{k}: {v}\r\n" for k, v in headers)


@dataclass
class _Call:
    n: int
    queue: str
    number: str
    agent: int | None = None

    @property
    def uid(self) -> str:
        return f"1760000000.{self.n}"

    @property
    def channel(self) -> str:
        return f"PJSIP/trunk-{self.n:08x}"

    def leg(self) -> tuple[str, str]:
        return f"PJSIP/{1000 + (self.agent or 0)}-{self.n:08x}", f"1760000000.{self.n}1"


@dataclass
class Switch:
    """Queue calls in a loop: arrive, ring, answer, hang up; agents pause and unpause."""

    rng: random.Random = field(default_factory=lambda: random.Random(12))
    queues_of: list[list[str]] = field(default_factory=list)
    members: dict[str, list[int]] = field(default_factory=dict)
    idle: set[int] = field(default_factory=set)
    paused: deque[int] = field(default_factory=deque)
    waiting: deque[_Call] = field(default_factory=deque)
    ringing: deque[_Call] = field(default_factory=deque)
    talking: deque[_Call] = field(default_factory=deque)
    n: int = 0

    def __post_init__(self) -> None:
        for i in range(AGENTS):
            qs = sorted({f"q{i % QUEUES:02d}", f"q{(i * 7 + 13) % QUEUES:02d}"})
            self.queues_of.append(qs)
            for q in qs:
                self.members.setdefault(q, []).append(i)
        self.paused.extend(range(PAUSED))
        self.idle.update(range(PAUSED, AGENTS))

    @staticmethod
    def iface(i: int) -> str:
        return f"PJSIP/{1000 + i}"

    def listing(self) -> list[tuple[tuple[str, str], ...]]:
        """The QueueStatus answer after login: every queue and member, some paused."""
        items: list[tuple[tuple[str, str], ...]] = []
        for q in sorted(self.members):
            items.append((("Event", "QueueParams"), ("Queue", q), ("Strategy", "rrmemory")))
        for q, agents in sorted(self.members.items()):
            for i in agents:
                paused = i < PAUSED
                items.append(
                    (
                        ("Event", "QueueMember"),
                        ("Queue", q),
                        ("Name", f"客服{1000 + i}"),
                        ("Location", self.iface(i)),
                        ("StateInterface", self.iface(i)),
                        ("Membership", "dynamic"),
                        ("Penalty", "0"),
                        ("CallsTaken", "0"),
                        ("InCall", "0"),
                        ("Status", "1"),
                        ("Paused", "1" if paused else "0"),
                        ("PausedReason", REASONS[i % 3] if paused else ""),
                        ("Wrapuptime", "0"),
                    )
                )
        return items

    def _chan(self, channel: str, uid: str, linked: str, num: str, state: str) -> list[Any]:
        return [
            ("Privilege", "call,all"),
            ("Channel", channel),
            ("ChannelState", "6" if state == "Up" else "4"),
            ("ChannelStateDesc", state),
            ("CallerIDNum", num),
            ("CallerIDName", "<unknown>"),
            ("ConnectedLineNum", "<unknown>"),
            ("ConnectedLineName", "<unknown>"),
            ("Language", "zh"),
            ("AccountCode", ""),
            ("Context", "hotline-inbound"),
            ("Exten", "95598"),
            ("Priority", "2"),
            ("Uniqueid", uid),
            ("Linkedid", linked),
        ]

    def _member_status(self, i: int, status: int, in_call: bool) -> list[str]:
        return [
            _frame(
                ("Event", "QueueMemberStatus"),
                ("Privilege", "agent,all"),
                ("Queue", q),
                ("MemberName", f"客服{1000 + i}"),
                ("Interface", self.iface(i)),
                ("StateInterface", self.iface(i)),
                ("Membership", "dynamic"),
                ("Penalty", "0"),
                ("CallsTaken", "0"),
                ("InCall", "1" if in_call else "0"),
                ("Status", str(status)),
                ("Paused", "0"),
                ("PausedReason", ""),
                ("Wrapuptime", "0"),
            )
            for q in self.queues_of[i]
        ]

    def _device(self, i: int, state: str) -> str:
        return _frame(
            ("Event", "DeviceStateChange"),
            ("Privilege", "call,all"),
            ("Device", self.iface(i)),
            ("State", state),
        )

    def _agent_event(self, name: str, c: _Call, *extra: tuple[str, object]) -> str:
        leg, leg_uid = c.leg()
        assert c.agent is not None
        return _frame(
            ("Event", name),
            *self._chan(c.channel, c.uid, c.uid, c.number, "Up"),
            ("DestChannel", leg),
            ("DestUniqueid", leg_uid),
            ("DestLinkedid", c.uid),
            ("Queue", c.queue),
            ("MemberName", f"客服{1000 + c.agent}"),
            ("Interface", self.iface(c.agent)),
            *extra,
        )

    # -- the steps -------------------------------------------------------------------------

    def arrive(self) -> list[str]:
        self.n += 1
        queue = f"q{self.rng.randrange(QUEUES):02d}"
        c = _Call(self.n, queue, f"13{self.rng.randrange(10**9):09d}")
        self.waiting.append(c)
        position = sum(1 for w in self.waiting if w.queue == queue)
        return [
            _frame(("Event", "Newchannel"), *self._chan(c.channel, c.uid, c.uid, c.number, "Ring")),
            _frame(
                ("Event", "QueueCallerJoin"),
                *self._chan(c.channel, c.uid, c.uid, c.number, "Up"),
                ("Queue", queue),
                ("Position", position),
                ("Count", position),
            ),
        ]

    def ring(self) -> list[str]:
        for c in list(self.waiting):
            free = [i for i in self.members[c.queue] if i in self.idle]
            if not free:
                continue
            self.waiting.remove(c)
            c.agent = self.rng.choice(free)
            self.idle.discard(c.agent)
            self.ringing.append(c)
            leg, leg_uid = c.leg()
            return [
                _frame(
                    ("Event", "Newchannel"),
                    *self._chan(leg, leg_uid, c.uid, str(1000 + c.agent), "Down"),
                ),
                self._agent_event("AgentCalled", c),
                self._device(c.agent, "RINGING"),
                *self._member_status(c.agent, 6, False),
            ]
        return []

    def answer(self) -> list[str]:
        if not self.ringing:
            return []
        c = self.ringing.popleft()
        self.talking.append(c)
        assert c.agent is not None
        return [
            _frame(
                ("Event", "QueueCallerLeave"),
                *self._chan(c.channel, c.uid, c.uid, c.number, "Up"),
                ("Queue", c.queue),
                ("Position", 1),
                ("Count", 0),
            ),
            self._agent_event("AgentConnect", c, ("HoldTime", 12), ("RingTime", 4)),
            self._device(c.agent, "INUSE"),
            *self._member_status(c.agent, 2, True),
        ]

    def hang_up(self) -> list[str]:
        if not self.talking:
            return []
        c = self.talking.popleft()
        assert c.agent is not None
        leg, leg_uid = c.leg()
        self.idle.add(c.agent)
        return [
            self._agent_event(
                "AgentComplete", c, ("HoldTime", 12), ("TalkTime", 95), ("Reason", "caller")
            ),
            _frame(
                ("Event", "Hangup"),
                *self._chan(leg, leg_uid, c.uid, str(1000 + c.agent), "Up"),
                ("Cause", 16),
                ("Cause-txt", "Normal Clearing"),
            ),
            _frame(
                ("Event", "Hangup"),
                *self._chan(c.channel, c.uid, c.uid, c.number, "Up"),
                ("Cause", 16),
                ("Cause-txt", "Normal Clearing"),
            ),
            self._device(c.agent, "NOT_INUSE"),
            *self._member_status(c.agent, 1, False),
        ]

    def pause(self, i: int, on: bool, reason: str) -> list[str]:
        return [
            _frame(
                ("Event", "QueueMemberPause"),
                ("Privilege", "agent,all"),
                ("Queue", q),
                ("MemberName", f"客服{1000 + i}"),
                ("Interface", self.iface(i)),
                ("StateInterface", self.iface(i)),
                ("Membership", "dynamic"),
                ("Penalty", "0"),
                ("CallsTaken", "0"),
                ("InCall", "0"),
                ("Status", "1"),
                ("Paused", "1" if on else "0"),
                ("PausedReason", reason if on else ""),
                ("Wrapuptime", "0"),
            )
            for q in self.queues_of[i]
        ]

    def swap_pause(self) -> list[str]:
        """One paused agent comes back, an idle one takes a break."""
        back = self.paused.popleft()
        self.idle.add(back)
        away = self.rng.choice(sorted(self.idle - {back}))
        self.idle.discard(away)
        self.paused.append(away)
        return [*self.pause(back, False, ""), *self.pause(away, True, self.rng.choice(REASONS))]

    def channels(self) -> int:
        return len(self.waiting) + 2 * (len(self.ringing) + len(self.talking))

    def warm_up(self) -> list[str]:
        """From an idle switch to the steady state: about 1,000 channels in progress."""
        out: list[str] = []
        while self.channels() < CHANNELS - WAITING:
            out += self.arrive()
            out += self.ring()
            out += self.answer()
        while self.channels() < CHANNELS:
            out += self.arrive()
        return out

    def steady(self) -> Iterator[str]:
        """Forever: each round as many calls start as end; a pause swap every 4th round."""
        rounds = 0
        while True:
            rounds += 1
            yield from self.hang_up()
            if self.channels() < CHANNELS:
                yield from self.arrive()
            yield from self.ring()
            yield from self.answer()
            if rounds % 4 == 0:
                yield from self.swap_pause()


def stamp(frames: list[str]) -> bytes:
    now = f"Timestamp: {time.time():.6f}\r\n\r\n"
    return "".join(f + now for f in frames).encode()


# -- the load process: the switch and the SSE clients -----------------------------------


@dataclass
class Client:
    seqs: array[int] = field(default_factory=lambda: array("q"))
    times: array[float] = field(default_factory=lambda: array("d"))
    marker_at: float | None = None
    ended_at: float | None = None  # the server ended the stream (cut for falling behind)


async def sse_client(port: int, token: str, client: Client, ready: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
    writer.write(
        (
            f"GET /api/live/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    buf = b""
    marker = f'"reason":"{MARKER}"'.encode()
    try:
        while data := await reader.read(1 << 16):
            now = time.time()
            buf += data
            cut = buf.rfind(b"\n\n")
            if cut < 0:
                continue
            done, buf = buf[: cut + 2], buf[cut + 2 :]
            if not ready.is_set():
                if b"event: snapshot" in done:
                    ready.set()
                continue
            if Load.recording:
                for m in ID.finditer(done):
                    client.seqs.append(int(m.group(1)))
                    client.times.append(now)
            if client.marker_at is None and marker in done:
                client.marker_at = now
        client.ended_at = time.time()
    finally:
        writer.close()


class Load:
    recording = False


async def load_async(conn: Connection, rate: int, seconds: float, flood: int) -> None:
    switch = Switch()
    server = FakeAmi(queue_items=switch.listing())
    await server.start()
    conn.send(server.port)
    warm = switch.warm_up()
    steady = switch.steady()
    paced = [next(steady) for _ in range(int(rate * seconds))]
    flooded = [next(steady) for _ in range(flood - 1)]
    idle = sorted(switch.idle)[0]
    flooded.append(switch.pause(idle, True, MARKER)[0])
    http_port, token, n = await asyncio.to_thread(conn.recv)
    while server.count("QueueStatus") == 0:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the listing is answered and taken
    await server.push(stamp(warm))
    conn.send(("warm", len(warm)))
    await asyncio.to_thread(conn.recv)  # the consumer has taken the warm-up
    # the supervisors' pages open on the busy switch: a snapshot, then the changes
    clients = [Client() for _ in range(n)]
    readies = [asyncio.Event() for _ in range(n)]
    tasks = [
        asyncio.create_task(sse_client(http_port, token, c, r))
        for c, r in zip(clients, readies, strict=True)
    ]
    for r in readies:
        await asyncio.wait_for(r.wait(), 120)
    Load.recording = True
    tick = 0.01
    per_tick = rate * tick
    t0 = time.time()
    sent = 0
    while sent < len(paced):
        due = min(len(paced), int((time.time() - t0) / tick * per_tick) + 1)
        if due > sent:
            await server.push(stamp(paced[sent:due]))
            sent = due
        await asyncio.sleep(t0 + (sent / per_tick) * tick - time.time())
    t1 = time.time()
    await asyncio.sleep(2.0)
    Load.recording = False
    f0 = time.time()
    await server.push(stamp(flooded))
    if n:
        deadline = time.time() + 120
        while (
            any(c.marker_at is None and c.ended_at is None for c in clients)
            and time.time() < deadline
        ):
            await asyncio.sleep(0.005)
    else:
        await asyncio.to_thread(conn.recv)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(
        {
            "paced": (t0, t1, len(paced)),
            "flood": (f0, len(flooded)),
            "clients": [
                (c.seqs.tobytes(), c.times.tobytes(), c.marker_at, c.ended_at) for c in clients
            ],
            "warm_channels": CHANNELS,
        }
    )
    await server.close()


def load_main(conn: Connection, rate: int, seconds: float, flood: int) -> None:
    asyncio.run(load_async(conn, rate, seconds, flood))


# -- this process: Hotline, or panoramisk alone ------------------------------------------


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


@dataclass
class Result:
    name: str
    sent_rate: float
    latencies_ms: list[float]  # per delivery
    all_ms: list[float]  # per change, until the last client had it
    flood_rate: float
    deliveries: int
    notes: str = ""
    path_rate: float = float("nan")  # flood: events/s until the last change was published


async def run_panoramisk(conn: Connection, port: int) -> Result:
    from panoramisk import Manager

    arrivals: list[tuple[float, float]] = []
    marker_at: list[float] = []

    def on_event(_manager: object, message: Any) -> None:
        now = time.time()
        ts = message.get("Timestamp")
        if ts:
            arrivals.append((float(ts), now))
        if message.get("PausedReason") == MARKER:
            marker_at.append(now)

    manager = Manager(
        host="127.0.0.1",
        port=port,
        username="hotline",
        secret="s3cret",
        ping_delay=3600,
        loop=asyncio.get_running_loop(),
    )
    manager.register_event("*", on_event)
    await manager.connect()
    # panoramisk asks for no listing: answer what the load waits for with one of ours
    manager.send_action({"Action": "QueueStatus"})
    conn.send((0, "", 0))
    await asyncio.to_thread(conn.recv)  # warm-up pushed
    await asyncio.sleep(1.0)
    conn.send("go")
    while not marker_at:
        await asyncio.sleep(0.005)
    conn.send("done")
    out = await asyncio.to_thread(conn.recv)
    manager.close()
    t0, t1, count = out["paced"]
    lat = [(a - s) * 1000 for s, a in arrivals if t0 <= s <= t1 + 0.05]
    f0, fcount = out["flood"]
    return Result("panoramisk alone", count / (t1 - t0), lat, lat, fcount / (marker_at[0] - f0), 0)


async def run_hotline(conn: Connection, port: int, tmp: str, clients: int) -> Result:
    import uvicorn

    from hotline.api import app as app_module
    from hotline.api.users import Role
    from hotline.core.bus import Message
    from hotline.core.settings import AmiSettings, Settings

    settings = Settings(
        data_dir=Path(tmp),
        ami=AmiSettings(host="127.0.0.1", port=port, username="hotline", secret="s3cret"),
        log_level="WARNING",
    )
    container = app_module.build(settings)
    app = app_module.create_app(container=container)
    live = app.state.live
    stamps: dict[int, float] = {}
    published: list[float] = []  # when the flood's last change was on the bus

    async def record(m: Message) -> None:  # after the feed: its seq is this message's
        stamps[live.feed.seq] = m.at.timestamp()
        queues = m.payload.get("queues", ()) if m.topic == "agent/state" else ()
        if not published and any(q.get("reason") == MARKER for q in queues):
            published.append(time.time())

    container.bus.subscribe("", record)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    http_port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    now = datetime.now(UTC)
    await container.users.add("chen", Role.SUPERVISOR, None, now)
    token = await container.users.issue_token("chen", now)
    conn.send((http_port, token, clients))
    _, warm = await asyncio.to_thread(conn.recv)
    frames = container.call_service.counters
    last = -1
    while container.queue.qsize() or frames.frames != last or frames.frames < warm:
        last = frames.frames
        await asyncio.sleep(0.5)
    snap = live.service.snapshot()
    talking = sum(1 for a in snap.agents if a.activity.value == "talking")
    waiting = sum(len(q.waiting) for q in snap.queues)
    conn.send("go")
    out = await asyncio.to_thread(conn.recv)
    server.should_exit = True
    await serving
    t0, t1, count = out["paced"]
    per_change: dict[int, float] = {}
    lat: list[float] = []
    for seqs_b, times_b, _, _ in out["clients"]:
        seqs, times = array("q"), array("d")
        seqs.frombytes(seqs_b)
        times.frombytes(times_b)
        for seq, at in zip(seqs, times, strict=True):
            sent = stamps.get(seq)
            if sent is None or not t0 <= sent <= t1 + 0.05:
                continue
            ms = (at - sent) * 1000
            lat.append(ms)
            per_change[seq] = max(per_change.get(seq, 0.0), ms)
    f0, fcount = out["flood"]
    got = [m for _, _, m, _ in out["clients"] if m is not None]
    cut = [e for _, _, m, e in out["clients"] if m is None and e is not None]
    paced_cut = sum(1 for e in cut if e <= t1 + 2)
    notes = (
        f"warm state: {len(snap.agents)} agents ({talking} talking), {len(snap.queues)} queues,"
        f" {waiting} callers waiting\n"
        f"  streams cut for falling behind: {paced_cut} while paced, {len(cut) - paced_cut}"
        f" in the flood; {len(got)} of {clients} saw the flood's last change"
    )
    path_rate = fcount / (published[0] - f0) if published else float("nan")
    return Result(
        f"hotline -> {clients} SSE clients",
        count / (t1 - t0),
        lat,
        list(per_change.values()),
        fcount / (max(got) - f0) if len(got) == clients else float("nan"),
        len(lat),
        notes,
        path_rate,
    )


def run(kind: str, args: argparse.Namespace, tmp: str) -> Result:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    load = ctx.Process(target=load_main, args=(child, args.rate, args.seconds, args.flood))
    load.start()
    port = parent.recv()
    if kind == "raw":
        result = asyncio.run(run_panoramisk(parent, port))
    elif args.profile:
        import cProfile

        profile = cProfile.Profile()
        result = profile.runcall(asyncio.run, run_hotline(parent, port, tmp, args.clients))
        profile.dump_stats(args.profile)
    else:
        result = asyncio.run(run_hotline(parent, port, tmp, args.clients))
    load.join(30)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=int, default=500, help="paced events/s")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--flood", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--profile", help="write a cProfile of Hotline's side to this file")
    args = parser.parse_args()
    print(
        f"stream: {AGENTS} agents in {QUEUES} queues, ~{CHANNELS} channels in progress;"
        f" paced {args.rate} events/s for {args.seconds:.0f} s, then {args.flood:,} at once"
    )
    with tempfile.TemporaryDirectory() as tmp:
        raw = run("raw", args, tmp)
        full = run("hotline", args, tmp)
    for r in (raw, full):
        print(f"{r.name}:")
        print(
            f"  paced at {r.sent_rate:,.0f} events/s, latency per delivery ms:"
            f" p50 {pct(r.latencies_ms, 50):.1f}  p95 {pct(r.latencies_ms, 95):.1f}"
            f"  p99 {pct(r.latencies_ms, 99):.1f}  ({len(r.latencies_ms):,} samples)"
        )
        if r is full:
            print(
                f"  until all {args.clients} clients have it, ms:"
                f" p50 {pct(r.all_ms, 50):.1f}  p95 {pct(r.all_ms, 95):.1f}"
                f"  p99 {pct(r.all_ms, 99):.1f}  ({len(r.all_ms):,} changes)"
            )
            print(f"  {r.notes}")
        if r is full:
            print(f"  flood through the live-state path (AMI -> bus): {r.path_rate:,.0f} events/s")
            print(f"  flood until every SSE client had it: {r.flood_rate:,.0f} events/s")
        else:
            print(f"  flood: {r.flood_rate:,.0f} events/s")
    p95 = pct(full.all_ms, 95)
    print(
        f"ratio p95 latency hotline(all clients)/panoramisk: {p95 / pct(raw.latencies_ms, 95):.1f}"
    )
    print(f"ratio flood events/s hotline path/panoramisk: {full.path_rate / raw.flood_rate:.3f}")
    print(f"ratio flood events/s hotline SSE/panoramisk: {full.flood_rate / raw.flood_rate:.3f}")
    verdict = "met" if p95 < 250 and full.sent_rate >= 490 else "NOT met"
    print(f"aim (p95 < 250 ms at >= 500 events/s sustained): {verdict}")


if __name__ == "__main__":
    main()
