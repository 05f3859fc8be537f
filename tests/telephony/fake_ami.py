"""A small AMI server on 127.0.0.1 for tests: enough of Asterisk 22's manager to log in,
ping, originate and list; plus the faults a real link shows (raw bytes, stalls, drops)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from hotline.telephony.frames import Frame, FrameReader

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


def frame_bytes(*headers: tuple[str, str]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n"


_FULLY_BOOTED = frame_bytes(
    ("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")
)


@dataclass
class _Conn:
    writer: asyncio.StreamWriter
    authed: bool = False
    stalled: bool = False


@dataclass
class FakeAmi:
    username: str = "hotline"
    secret: str = "s3cret"
    # what the listings return, as header tuples without ActionID
    channels: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    queue_items: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    statuses: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    # success | failure | error | hold (never answer) | event_first
    originate_outcome: str = "success"
    # queue -> interface -> dynamic?, for QueuePause / QueueRemove (Asterisk 22's answers)
    members: dict[str, dict[str, bool]] = field(default_factory=dict)
    # False: still starting (no FullyBooted at login, app_queue not loaded) until boot()
    booted: bool = True
    during_listing: bytes = b""  # pushed in the middle of the CoreShowChannels list
    actions: list[Frame] = field(default_factory=list)
    login_times: list[float] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _conns: list[_Conn] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        if self._server is not None:
            await self._server.wait_closed()

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions if (a.get("Action") or "").lower() == action.lower())

    # -- faults ----------------------------------------------------------------------------

    async def push(self, raw: bytes) -> None:
        for conn in list(self._conns):
            conn.writer.write(raw)
            with contextlib.suppress(ConnectionError):
                await conn.writer.drain()

    def stall(self) -> None:
        """Keep the TCP link open but answer nothing more (a half-open link)."""
        for conn in self._conns:
            conn.stalled = True

    async def boot(self) -> None:
        """The switch finished starting: app_queue answers, FullyBooted goes to every login."""
        self.booted = True
        for conn in [c for c in self._conns if c.authed]:
            conn.writer.write(_FULLY_BOOTED)
            with contextlib.suppress(ConnectionError):
                await conn.writer.drain()

    def drop(self) -> None:
        for conn in list(self._conns):
            conn.writer.close()

    # -- the server ------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = _Conn(writer)
        self._conns.append(conn)
        self.connections += 1
        frames = FrameReader()
        try:
            writer.write(BANNER)
            while data := await reader.read(65536):
                for frame in frames.feed(data):
                    self.actions.append(frame)
                    if not conn.stalled:
                        await self._answer(conn, frame)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._conns.remove(conn)
            writer.close()
            self._tasks.discard(task)

    async def _answer(self, conn: _Conn, action: Frame) -> None:
        name = (action.get("Action") or "").lower()
        aid = ("ActionID", action.action_id or "")
        w = conn.writer
        if name == "login":
            self.login_times.append(time.monotonic())
            if action.get("Username") == self.username and action.get("Secret") == self.secret:
                conn.authed = True
                w.write(
                    frame_bytes(
                        ("Response", "Success"), aid, ("Message", "Authentication accepted")
                    )
                )
                if self.booted:
                    w.write(_FULLY_BOOTED)
            else:
                w.write(
                    frame_bytes(("Response", "Error"), aid, ("Message", "Authentication failed"))
                )
                await w.drain()
                w.close()
            return
        if not conn.authed:
            w.write(frame_bytes(("Response", "Error"), aid, ("Message", "Permission denied")))
        elif name == "ping":
            w.write(
                frame_bytes(
                    ("Response", "Success"),
                    aid,
                    ("Ping", "Pong"),
                    ("Timestamp", f"{time.time():.6f}"),
                )
            )
        elif name == "logoff":
            w.write(
                frame_bytes(("Response", "Goodbye"), aid, ("Message", "Thanks for all the fish."))
            )
            await w.drain()
            w.close()
        elif name == "originate":
            await self._originate(w, action, aid)
        elif name in ("queuepause", "queueremove", "queueadd"):
            response, message = self._member_action(name, action)
            w.write(frame_bytes(response, aid, message))
        elif name == "coreshowchannels":
            self._list(
                w,
                aid,
                "Channels will follow",
                self.channels,
                "CoreShowChannelsComplete",
                mid=self.during_listing,
            )
        elif name == "queuestatus" and self.booted:
            self._list(w, aid, "Queue status will follow", self.queue_items, "QueueStatusComplete")
        elif name == "status":
            self._list(w, aid, "Channel status will follow", self.statuses, "StatusComplete")
        else:
            w.write(frame_bytes(("Response", "Error"), aid, ("Message", "Invalid/unknown command")))
        await w.drain()

    def _member_action(self, name: str, action: Frame) -> tuple[tuple[str, str], tuple[str, str]]:
        """What app_queue answers: see manager_queue_member_pause / _remove_queue_member."""
        queue, interface = action.get("Queue"), action.get("Interface") or ""
        if name == "queuepause":
            known = [q for q, m in self.members.items() if interface in m and queue in (None, q)]
            if not known:
                return (("Response", "Error"), ("Message", "Interface not found"))
            paused = (action.get("Paused") or "").lower() in ("true", "yes", "1")
            word = "paused" if paused else "unpaused"
            return (("Response", "Success"), ("Message", f"Interface {word} successfully"))
        if name == "queueadd":  # manager_add_queue_member
            if queue not in self.members:
                return (
                    ("Response", "Error"),
                    ("Message", "Unable to add interface to queue: No such queue"),
                )
            if interface in self.members[queue]:
                return (
                    ("Response", "Error"),
                    ("Message", "Unable to add interface: Already there"),
                )
            self.members[queue][interface] = True  # dynamic
            return (("Response", "Success"), ("Message", "Added interface to queue"))
        if queue not in self.members:
            return (
                ("Response", "Error"),
                ("Message", "Unable to remove interface from queue: No such queue"),
            )
        if interface not in self.members[queue]:
            return (("Response", "Error"), ("Message", "Unable to remove interface: Not there"))
        if not self.members[queue][interface]:
            return (("Response", "Error"), ("Message", "Member not dynamic"))
        del self.members[queue][interface]
        return (("Response", "Success"), ("Message", "Removed interface from queue"))

    def _list(
        self,
        w: asyncio.StreamWriter,
        aid: tuple[str, str],
        message: str,
        items: list[tuple[tuple[str, str], ...]],
        complete: str,
        mid: bytes = b"",
    ) -> None:
        w.write(
            frame_bytes(("Response", "Success"), aid, ("EventList", "start"), ("Message", message))
        )
        for i, item in enumerate(items):
            w.write(frame_bytes(item[0], aid, *item[1:]))
            if i == 0 and mid:
                w.write(mid)
        if not items and mid:
            w.write(mid)
        w.write(
            frame_bytes(
                ("Event", complete), aid, ("EventList", "Complete"), ("ListItems", str(len(items)))
            )
        )

    async def _originate(
        self, w: asyncio.StreamWriter, action: Frame, aid: tuple[str, str]
    ) -> None:
        outcome = self.originate_outcome
        if outcome == "error":
            w.write(frame_bytes(("Response", "Error"), aid, ("Message", "Invalid channel")))
            return
        ok = outcome in ("success", "event_first")
        event = frame_bytes(
            ("Event", "OriginateResponse"),
            ("Privilege", "call,all"),
            aid,
            ("Response", "Success" if ok else "Failure"),
            ("Channel", action.get("Channel") or ""),
            ("Context", action.get("Context") or ""),
            ("Exten", action.get("Exten") or ""),
            ("Reason", "4" if ok else "5"),
            ("Uniqueid", "1700000000.42" if ok else "<null>"),
            ("CallerIDNum", "<unknown>"),
            ("CallerIDName", "<unknown>"),
        )
        queued = frame_bytes(
            ("Response", "Success"), aid, ("Message", "Originate successfully queued")
        )
        if outcome == "event_first":
            w.write(event + queued)
            return
        w.write(queued)
        if outcome != "hold":
            await w.drain()
            await asyncio.sleep(0.02)
            w.write(event)
