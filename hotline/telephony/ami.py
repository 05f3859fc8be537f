"""AMI client: the one module that imports panoramisk. The one rule: every event reaches the
queue once, in arrival order, and no action is ever sent twice.

panoramisk 1.4 is used only for what it does well (building actions, matching responses
and event lists to their ActionID). Its traps are closed here:

* its own parsing drops a UTF-8 character split across two reads and crashes on repeated
  `Event:`/`Message:` headers; we parse with `FrameReader` and hand it clean `Message`s;
* an exception in `data_received` kills the connection; ours never lets one escape;
* it takes a Response whose Message is "Added ... to queue" (QueueAdd's one answer) for
  the start of an event list and waits for the rest for ever; `_Action` does not;
* its `Manager` re-sends unanswered actions with the same ActionID after a reconnect (an
  Originate placed twice) and never checks pings; we do not use `Manager`: unanswered
  actions fail with `AmiUnavailable`, and a watchdog kills a link that stops answering.

Everything the switch says goes to ONE `asyncio.Queue`, put there synchronously:
`(received_at, Frame)` for events, `LinkUp` / `Resync` after each login (the listing of
channels, queues and channel status, taken once the switch says FullyBooted: a switch still
starting refuses QueueStatus, its app_queue not loaded yet; events arriving meanwhile are
held and follow it), `LinkDown` when the link ends. `OriginateResponse` answers
`originate()` and is also queued, as it is a call event.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeAlias

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from hotline.core.errors import HotlineError, Unavailable
from hotline.telephony.frames import Frame, FrameReader

log = logging.getLogger(__name__)


class AmiUnavailable(Unavailable):
    """The AMI link is down (or went down while waiting): nothing was (re)sent; retry later."""


class AmiError(HotlineError):
    """Asterisk answered, but refused or did not complete what was asked. `said` is the
    switch's own `Message` when it gave one (e.g. "Interface not found")."""

    def __init__(self, message: str, *, said: str | None = None, error_id: str | None = None):
        super().__init__(message, error_id=error_id)
        self.said = said


class AmiTimeout(AmiError):
    """Asterisk accepted the action but its final answer did not come in time."""


@dataclass(frozen=True, slots=True)
class LinkUp:
    at: datetime


@dataclass(frozen=True, slots=True)
class LinkDown:
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Resync:
    """The switch's state after a login: CoreShowChannel, then QueueParams/QueueMember/
    QueueEntry, then Status events, each group in the order Asterisk listed it."""

    at: datetime
    frames: tuple[Frame, ...]


ReceivedFrame: TypeAlias = tuple[datetime, Frame]
AmiItem: TypeAlias = ReceivedFrame | LinkUp | LinkDown | Resync


# Asterisk's OriginateResponse `Reason` (an AST_CONTROL_* code).
ORIGINATE_REASONS: dict[int, str] = {
    0: "failed: no such channel or extension, or another error",
    1: "hung up before answer",
    3: "rang, not answered in time",
    4: "answered",
    5: "busy",
    8: "congestion",
}


@dataclass(frozen=True, slots=True)
class OriginateResult:
    success: bool
    reason_code: int  # -1 when Asterisk sent none
    reason_text: str
    uniqueid: str | None
    channel: str | None
    raw: Frame  # the OriginateResponse event


@dataclass(frozen=True, slots=True)
class ActionReply:
    """The switch's answer to one action: its Response frame, and the events of its list
    (QueueStatus, CoreShowChannels ...) without the closing `...Complete`."""

    response: Frame
    events: tuple[Frame, ...] = ()

    @property
    def message(self) -> str:
        return self.response.get("Message") or ""


class ActionSender(Protocol):
    """What sends a plain AMI action (the AmiClient; fakes in tests)."""

    @property
    def connected(self) -> bool: ...

    async def send_action(
        self, action: Mapping[str, str | list[str]], *, timeout_s: float = 10.0
    ) -> ActionReply: ...


class Originator(Protocol):
    """What originates calls (the AmiClient; fakes in tests): callbacks and 回访 use it."""

    @property
    def connected(self) -> bool: ...

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
    ) -> OriginateResult: ...


_LISTINGS: tuple[tuple[str, str], ...] = (
    ("CoreShowChannels", "channels"),
    ("QueueStatus", "queues"),
    ("Status", "channel status"),
)
_RESYNC_TIMEOUT = 30.0  # a switch that answers pings but never finishes a listing
_BOOT_TIMEOUT = 60.0  # a switch that never says FullyBooted: the listing is taken anyway
_LOGOFF_TIMEOUT = 1.0
_SCALAR_KEYS = frozenset({"event", "response", "actionid", "commandid", "message", "eventlist"})


def _now() -> datetime:
    return datetime.now(UTC)


def _to_message(frame: Frame) -> Any:
    """A panoramisk `Message` for response matching. Keys panoramisk calls string methods on
    keep their first value; other repeated headers (`ChanVariable`) become lists."""
    headers: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in frame.headers:
        lower = key.lower()
        if lower not in spelled:
            spelled[lower] = key
            headers[key] = value
        elif lower not in _SCALAR_KEYS:
            old = headers[spelled[lower]]
            headers[spelled[lower]] = [*old, value] if isinstance(old, list) else [old, value]
    message = Message(headers, frame.body)
    message.frame = frame
    return message


def _frames_of(reply: Any) -> list[Frame]:
    messages = reply if isinstance(reply, list) else [reply]
    return [m.frame for m in messages if isinstance(getattr(m, "frame", None), Frame)]


def _reject_newlines(action: Mapping[str, str | list[str]]) -> None:
    for key, value in action.items():
        for item in value if isinstance(value, list) else [value]:
            if "\r" in item or "\n" in item:
                raise ValueError(f"AMI header {key} must be one line, got {item!r}")


class _Action(Action):  # type: ignore[misc]  # panoramisk is untyped
    """panoramisk's Action, but a Response saying "Added interface to queue" (app_queue's
    answer to QueueAdd) is the whole answer, not the start of a list."""

    @property
    def multi(self) -> bool:
        message = (self.responses[0].message or "").lower()
        if self.as_list is None and message.startswith("added") and message.endswith("queue"):
            return False
        return bool(super().multi)


class _Protocol(AMIProtocol):  # type: ignore[misc]  # panoramisk is untyped
    """One TCP connection. Frames come from `FrameReader`; responses go to panoramisk's
    matching; events go to the client. Nothing raised here reaches asyncio."""

    def __init__(self, client: AmiClient) -> None:
        super().__init__()
        self._client = client
        self._reader = FrameReader(client.encoding, only_events=client.only_events)
        self.closed = True  # until connection_made
        self._reason: str | None = None
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.log = log
        self.encoding = self._client.encoding

    def send(self, data: Any, as_list: bool | None = None) -> Any:
        # None: panoramisk decides from the first response whether a list follows
        if self.closed:
            raise AmiUnavailable(f"AMI link to {self._client.address} is down")
        if not isinstance(data, Action) and "Command" not in data:
            data = _Action(data, as_list=as_list)
        return super().send(data, as_list=as_list)

    def data_received(self, data: bytes) -> None:
        try:
            received_at = _now()
            frames = self._reader.feed(data)
        except Exception:
            log.exception("AMI: could not decode %d bytes from %s", len(data), self._client.address)
            return
        for frame in frames:
            try:
                self._dispatch(received_at, frame)
            except Exception:
                log.exception("AMI: frame skipped, could not be handled: %.300r", frame)

    def _dispatch(self, received_at: datetime, frame: Frame) -> None:
        pending = self.responses.get(frame.get("CommandID") or frame.action_id or "")
        if pending is not None:
            self.handle_message(_to_message(frame))
            if frame.event != "OriginateResponse":
                return
        if frame.event is not None:
            self._client._event(received_at, frame)
        elif pending is None:
            log.debug("AMI: frame answers nothing pending, dropped: %.300r", frame)

    def abort(self, reason: str) -> None:
        """Close now (half-open links never flush); pending actions fail."""
        self._reason = self._reason or reason
        if not self.closed:
            self.closed = True
            self.transport.abort()

    @property
    def reason(self) -> str:
        """Why the link ended (once it has)."""
        if self.lost.done() and not self.lost.cancelled():
            return self.lost.result()
        return self._reason or "closed"

    def close(self) -> None:
        self.abort("closed by Hotline")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = self._reason or (f"connection lost: {exc}" if exc else "closed by the switch")
        for action in {id(a): a for a in self.responses.values()}.values():
            if not action.future.done():
                name, action_id = action.get("Action", "?"), action.get("ActionID", "?")
                action.future.set_exception(
                    AmiUnavailable(
                        f"AMI link to {self._client.address} lost before {name} {action_id}"
                        f" was answered ({reason}); it will not be re-sent"
                    )
                )
        self.responses.clear()
        if not self.lost.done():
            self.lost.set_result(reason)


class AmiClient:
    """Follows one Asterisk over AMI; reconnects by itself until `stop()`."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        queue: asyncio.Queue[AmiItem],
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        reconnect_min: float = 1.0,
        reconnect_max: float = 60.0,
        encoding: str = "utf-8",
        only_events: frozenset[str] | None = None,
    ) -> None:
        codecs.lookup(encoding)  # fail now on a misspelt encoding
        if not 0 < reconnect_min <= reconnect_max:
            raise ValueError("need 0 < reconnect_min <= reconnect_max")
        self.host, self.port, self.username = host, port, username
        self._secret = secret
        self._queue = queue
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.encoding = encoding
        if only_events is not None:
            only_events = only_events | {"fullybooted"}  # the listing waits for it
        self.only_events = only_events  # lower-case names; others are dropped unparsed
        self._booted = asyncio.Event()  # FullyBooted seen in this session
        self._protocol: _Protocol | None = None  # set while logged in
        self._held: list[ReceivedFrame] | None = None  # events held while the listing is taken
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._protocol is not None and not self._protocol.closed

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"ami {self.address}")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is None:
            return
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            with contextlib.suppress(AmiUnavailable, TimeoutError):
                await asyncio.wait_for(protocol.send({"Action": "Logoff"}), _LOGOFF_TIMEOUT)
            protocol.abort("logged off by Hotline")
        task.cancel()
        await asyncio.wait({task})

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
        """Place a call (Async Originate) and wait for its OriginateResponse."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise AmiUnavailable(
                f"AMI link to {self.address} is down: Originate {action_id} was not sent;"
                " retry when the link is back"
            )
        if action_id in protocol.responses:
            raise AmiError(f"Originate {action_id} is already in flight; use a new action_id")
        bad = [k for k in variables if not k or "=" in k]
        if bad:
            raise ValueError(f"Originate variable names must be non-empty without '=': {bad}")
        action: dict[str, str | list[str]] = {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
            "CallerID": caller_id,
            "Timeout": str(max(1, round(timeout_s * 1000))),
            "Async": "true",
        }
        if variables:
            action["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        _reject_newlines(action)
        future = protocol.send(action)
        wait = timeout_s + self.ping_interval + self.ping_timeout
        try:
            reply = await asyncio.wait_for(future, wait)
        except TimeoutError as exc:
            raise AmiTimeout(
                f"Originate {action_id} to {channel}: no OriginateResponse within {wait:.1f}s"
            ) from exc
        finally:
            protocol.responses.pop(action_id, None)
        return self._originate_result(action_id, reply)

    async def send_action(
        self, action: Mapping[str, str | list[str]], *, timeout_s: float = 10.0
    ) -> ActionReply:
        """Send one action (an ActionID is added) and wait for its answer, once: nothing is
        re-sent. Raises `AmiUnavailable` when the link is down, `AmiTimeout` when no answer
        came in `timeout_s`, `AmiError` (with the switch's `Message` as `said`) when the
        switch answered `Response: Error`."""
        name = str(action.get("Action", ""))
        if not name:
            raise ValueError("an AMI action needs its Action header")
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise AmiUnavailable(
                f"AMI link to {self.address} is down: {name} was not sent;"
                " retry when the link is back"
            )
        action_id = f"hotline-{name.lower()}-{uuid.uuid4().hex[:12]}"
        sent: dict[str, str | list[str]] = {
            k: v for k, v in action.items() if k.lower() != "actionid"
        }
        sent["ActionID"] = action_id
        _reject_newlines(sent)
        future = protocol.send(sent)
        try:
            reply = await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:
            raise AmiTimeout(f"{name} {action_id}: no answer within {timeout_s:.1f}s") from exc
        finally:
            protocol.responses.pop(action_id, None)
        frames = _frames_of(reply)
        if not frames:
            raise AmiError(f"{name} {action_id}: empty reply from Asterisk")
        first = frames[0]
        if first.get("Response") == "Error":
            said = first.get("Message") or ""
            raise AmiError(f"Asterisk refused {name}: {said}", said=said)
        events = tuple(
            f for f in frames[1:] if f.event is not None and not f.event.endswith("Complete")
        )
        return ActionReply(first, events)

    @staticmethod
    def _originate_result(action_id: str, reply: Any) -> OriginateResult:
        frames = _frames_of(reply)
        for frame in frames:
            if frame.event == "OriginateResponse":
                try:
                    code = int(frame.get("Reason") or "-1")
                except ValueError:
                    code = -1
                uniqueid = frame.get("Uniqueid")
                return OriginateResult(
                    success=frame.get("Response") == "Success",
                    reason_code=code,
                    reason_text=ORIGINATE_REASONS.get(code, f"reason {code}"),
                    uniqueid=None if uniqueid in (None, "", "<null>") else uniqueid,
                    channel=frame.get("Channel") or None,
                    raw=frame,
                )
        first = frames[0] if frames else None
        said = first.get("Message", "") if first is not None else ""
        if first is not None and first.get("Response") == "Error":
            raise AmiError(f"Asterisk refused Originate {action_id}: {said}", said=said)
        raise AmiError(f"Originate {action_id}: unexpected reply from Asterisk: {said!r}")

    # -- the connection loop -------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.reconnect_min
        while not self._stopping:
            try:
                if await self._session():
                    delay = self.reconnect_min
            except Exception:  # a bug here must not end reconnection for good
                log.exception("AMI %s: session failed unexpectedly", self.address)
            if self._stopping:
                break
            log.info("AMI %s: reconnecting in %.1fs", self.address, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max)

    async def _session(self) -> bool:
        """Connect, log in, resync, follow until the link ends. True if the login worked."""
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), self.host, self.port),
                self.ping_interval + self.ping_timeout,
            )
        except (OSError, TimeoutError) as exc:
            log.warning("AMI %s: cannot connect: %s", self.address, exc or "timed out")
            return False
        log.info("AMI %s: connected, logging in as %r", self.address, self.username)
        watchdog: asyncio.Task[None] | None = None
        logged_in = False
        self._held = []  # FullyBooted may come in the same read as the Login response
        self._booted.clear()
        try:
            if not await self._login(protocol):
                self._held = None
                return False
            logged_in = True
            self._protocol = protocol
            self._put(LinkUp(_now()))
            log.info("AMI %s: logged in as %r, link up", self.address, self.username)
            watchdog = asyncio.create_task(self._watchdog(protocol), name="ami watchdog")
            await self._until_booted(protocol)
            frames = await self._listing(protocol)
            self._put(Resync(_now(), frames))
            self._release_held()
            await asyncio.shield(protocol.lost)  # a cancel must not cancel `lost`
        except AmiUnavailable as exc:  # the link dropped while the listing was taken
            log.debug("AMI %s: %s", self.address, exc)
        finally:  # synchronous first: stop() may cancel us while we clean up
            self._release_held()
            self._protocol = None
            protocol.abort("stopped by Hotline" if self._stopping else "session ended")
            if logged_in:
                reason = protocol.reason
                self._put(LinkDown(_now(), reason))
                log.info("AMI %s: link down: %s", self.address, reason)
            if watchdog is not None:
                watchdog.cancel()
                await asyncio.wait({watchdog})
        return True

    async def _login(self, protocol: _Protocol) -> bool:
        login = {
            "Action": "Login",
            "Username": self.username,
            "Secret": self._secret,
            "Events": "on",
        }
        try:
            reply = await asyncio.wait_for(
                protocol.send(login), self.ping_interval + self.ping_timeout
            )
        except (AmiUnavailable, TimeoutError) as exc:
            log.warning(
                "AMI %s: no answer to login as %r: %s",
                self.address,
                self.username,
                exc or "timeout",
            )
            return False
        if not reply.success:
            log.error(
                "AMI %s: login as user %r refused (%s). Check the username and secret in the"
                " switch's manager.conf and in Hotline's settings; retrying with backoff.",
                self.address,
                self.username,
                reply.get("Message", "no message"),
            )
            protocol.abort("login refused")
            return False
        return True

    async def _until_booted(self, protocol: _Protocol) -> None:
        """Wait for FullyBooted: sent right after the login by a running switch, at the end
        of its start by one still loading its modules (which refuses QueueStatus until then)."""
        if self._booted.is_set():
            return
        booted = asyncio.ensure_future(self._booted.wait())
        either: set[asyncio.Future[Any]] = {booted, protocol.lost}  # wait() cancels neither
        try:
            done, _ = await asyncio.wait(
                either, timeout=_BOOT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            booted.cancel()
        if protocol.lost.done():
            raise AmiUnavailable(f"AMI {self.address}: link lost before FullyBooted")
        if not done:
            log.warning(
                "AMI %s: no FullyBooted within %.0f s; taking the listing anyway",
                self.address,
                _BOOT_TIMEOUT,
            )

    async def _listing(self, protocol: _Protocol) -> tuple[Frame, ...]:
        out: list[Frame] = []
        for action, what in _LISTINGS:
            try:
                reply = await asyncio.wait_for(protocol.send({"Action": action}), _RESYNC_TIMEOUT)
            except TimeoutError:
                log.error("AMI %s: %s listing not finished in time", self.address, action)
                protocol.abort(f"{action} listing timed out")
                raise AmiUnavailable(f"AMI {self.address}: {action} timed out") from None
            frames = _frames_of(reply)
            if frames and frames[0].get("Response") not in (None, "Success"):
                log.warning(
                    "AMI %s: no %s in the resync (%s refused: %s)",
                    self.address,
                    what,
                    action,
                    frames[0].get("Message"),
                )
                continue
            out.extend(
                f for f in frames if f.event is not None and not f.event.endswith("Complete")
            )
        return tuple(out)

    async def _watchdog(self, protocol: _Protocol) -> None:
        while not protocol.closed:
            await asyncio.sleep(self.ping_interval)
            try:
                await asyncio.wait_for(protocol.send({"Action": "Ping"}), self.ping_timeout)
            except AmiUnavailable:
                return
            except TimeoutError:
                log.warning(
                    "AMI %s: no answer to Ping within %.1fs, closing the link",
                    self.address,
                    self.ping_timeout,
                )
                protocol.abort(f"no answer to Ping within {self.ping_timeout}s")
                return

    # -- the queue -----------------------------------------------------------------------

    def _event(self, received_at: datetime, frame: Frame) -> None:
        if frame.event == "FullyBooted":
            self._booted.set()
        if self._held is not None:
            self._held.append((received_at, frame))
        else:
            self._put((received_at, frame))

    def _release_held(self) -> None:
        held, self._held = self._held, None
        for item in held or ():
            self._put(item)

    def _put(self, item: AmiItem) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            log.error("AMI %s: event queue full, item dropped: %.200r", self.address, item)
