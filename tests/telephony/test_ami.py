"""AmiClient against the fake AMI server over real loopback TCP."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest

from hotline.telephony.ami import (
    AmiClient,
    AmiError,
    AmiItem,
    AmiTimeout,
    AmiUnavailable,
    LinkDown,
    LinkUp,
    Resync,
)
from hotline.telephony.frames import Frame

from .fake_ami import FakeAmi, frame_bytes

T = TypeVar("T")

CHANNEL = (
    ("Event", "CoreShowChannel"),
    ("Channel", "PJSIP/1001-00000001"),
    ("Uniqueid", "1700000000.1"),
    ("CallerIDName", "张三"),
)
QUEUE_ITEMS: list[tuple[tuple[str, str], ...]] = [
    (("Event", "QueueParams"), ("Queue", "kefu"), ("Calls", "1")),
    (("Event", "QueueMember"), ("Queue", "kefu"), ("Name", "PJSIP/8001")),
    (("Event", "QueueEntry"), ("Queue", "kefu"), ("Uniqueid", "1700000000.1")),
]
STATUS = (("Event", "Status"), ("Channel", "PJSIP/1001-00000001"), ("Uniqueid", "1700000000.1"))


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi(channels=[CHANNEL], queue_items=QUEUE_ITEMS, statuses=[STATUS])
    await server.start()
    yield server
    await server.close()


def make_client(fake: FakeAmi, queue: asyncio.Queue[AmiItem], **kw: Any) -> AmiClient:
    opts: dict[str, Any] = dict(
        ping_interval=0.2, ping_timeout=0.2, reconnect_min=0.1, reconnect_max=0.4
    )
    opts.update(kw)
    secret = opts.pop("secret", fake.secret)
    return AmiClient("127.0.0.1", fake.port, fake.username, secret, queue=queue, **opts)


@pytest.fixture
async def queue() -> asyncio.Queue[AmiItem]:
    return asyncio.Queue()


@pytest.fixture
async def client(fake: FakeAmi, queue: asyncio.Queue[AmiItem]) -> AsyncIterator[AmiClient]:
    c = make_client(fake, queue)
    await c.start()
    yield c
    await c.stop()


async def next_of(
    queue: asyncio.Queue[AmiItem],
    kind: type[T],
    timeout: float = 2.0,
    where: Callable[[T], bool] = lambda _: True,
) -> T:
    async with asyncio.timeout(timeout):
        while True:
            item = await queue.get()
            if isinstance(item, kind) and where(item):
                return item


async def next_event(queue: asyncio.Queue[AmiItem], name: str, timeout: float = 2.0) -> Frame:
    item = await next_of(queue, tuple, timeout, lambda i: i[1].event == name)
    return item[1]  # type: ignore[no-any-return]


async def until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def up(queue: asyncio.Queue[AmiItem]) -> Resync:
    await next_of(queue, LinkUp)
    resync = await next_of(queue, Resync)
    await next_event(queue, "FullyBooted")  # held while the listing was taken
    return resync


async def test_link_up_then_resync_in_order_then_held_events(
    fake: FakeAmi, queue: asyncio.Queue[AmiItem]
) -> None:
    fake.during_listing = frame_bytes(("Event", "Newchannel"), ("Uniqueid", "during"))
    c = make_client(fake, queue)
    await c.start()
    try:
        first = await asyncio.wait_for(queue.get(), 2)
        assert isinstance(first, LinkUp)
        resync = await asyncio.wait_for(queue.get(), 2)
        assert isinstance(resync, Resync)
        assert [f.event for f in resync.frames] == [
            "CoreShowChannel",
            "QueueParams",
            "QueueMember",
            "QueueEntry",
            "Status",
        ]
        assert resync.frames[0].get("CallerIDName") == "张三"
        held = [await asyncio.wait_for(queue.get(), 2) for _ in range(2)]
        assert [item[1].event for item in held] == ["FullyBooted", "Newchannel"]  # type: ignore[index]
        assert c.connected
    finally:
        await c.stop()


async def test_a_switch_still_starting_is_listed_once_fully_booted(
    fake: FakeAmi, queue: asyncio.Queue[AmiItem]
) -> None:
    """Hotline logs in while Asterisk loads its modules (a restart): QueueStatus would be
    refused ("Invalid/unknown command") and the live state keep a stale view; the listing
    waits for FullyBooted instead."""
    fake.booted = False
    c = make_client(fake, queue)
    await c.start()
    try:
        await next_of(queue, LinkUp)
        await asyncio.sleep(0.3)
        assert fake.count("QueueStatus") == 0 and queue.empty()
        await fake.boot()
        resync = await next_of(queue, Resync)
        assert "QueueMember" in [f.event for f in resync.frames]
        await next_event(queue, "FullyBooted")
    finally:
        await c.stop()


async def test_chinese_name_split_mid_character_arrives_whole(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    raw = frame_bytes(("Event", "Newchannel"), ("CallerIDName", "王小明"), ("Uniqueid", "1.2"))
    cut = raw.index("小".encode()) + 1  # inside the 3-byte character
    await fake.push(raw[:cut])
    await asyncio.sleep(0.05)
    await fake.push(raw[cut:])
    frame = await next_event(queue, "Newchannel")
    assert frame.get("CallerIDName") == "王小明"


async def test_bad_frames_do_not_stop_the_stream(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    await fake.push(b"Event: Hangup\r\nEvent: Newchannel\r\nUniqueid: twice\r\n\r\n")
    await fake.push(b"garbage without colon\r\n:::\r\n\xff\xfe\r\n\r\n")
    await fake.push(b"Response: Success\r\nActionID: nobody\r\nMessage: a\r\nMessage: b\r\n\r\n")
    await fake.push(b"Event: UserEvent\r\nData: " + b"x" * 100_000 + b"\r\n\r\n")
    await fake.push(b"Event: VarSet\r\nVariable: a\r\nVariable: b\r\nValue: 1\r\n\r\n")
    await fake.push(frame_bytes(("Event", "Newchannel"), ("Uniqueid", "after")))
    seen: list[Frame] = []
    async with asyncio.timeout(2):
        while not seen or seen[-1].get("Uniqueid") != "after":
            item = await queue.get()
            assert isinstance(item, tuple), item
            seen.append(item[1])
    events = [f.event for f in seen]
    assert events == ["Hangup", "Newchannel", "UserEvent", "VarSet", "Newchannel"]
    assert len(seen[2].get("Data") or "") == 100_000
    assert seen[3].get_all("Variable") == ["a", "b"]
    assert fake.connections == 1 and client.connected


async def test_exception_inside_dispatch_is_contained(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    await up(queue)
    real = client._event

    def explode_once(at: Any, frame: Frame) -> None:
        if frame.get("Uniqueid") == "boom":
            raise RuntimeError("boom")
        real(at, frame)

    monkeypatch.setattr(client, "_event", explode_once)
    await fake.push(
        frame_bytes(("Event", "Newchannel"), ("Uniqueid", "boom"))
        + frame_bytes(("Event", "Newchannel"), ("Uniqueid", "next"))
    )
    frame = await next_event(queue, "Newchannel")
    assert frame.get("Uniqueid") == "next"
    assert fake.connections == 1


async def test_drop_reconnects_with_backoff_and_resyncs(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    fake.drop()
    down = await next_of(queue, LinkDown)
    assert not client.connected
    again = await next_of(queue, LinkUp)
    assert (again.at - down.at).total_seconds() >= 0.09  # reconnect_min
    resync = await next_of(queue, Resync)
    assert len(resync.frames) == 5
    assert fake.connections == 2 and fake.count("Login") == 2
    assert client.connected


async def test_watchdog_kills_a_silent_link(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    fake.stall()
    t0 = time.monotonic()
    down = await next_of(queue, LinkDown, timeout=1.5)
    assert time.monotonic() - t0 <= 0.2 + 0.2 + 0.15
    assert "Ping" in down.reason
    await up(queue)
    assert fake.connections == 2


async def test_originate_success(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    result = await client.originate(
        channel="PJSIP/13800000000@trunk",
        context="callback",
        exten="s",
        caller_id='"客服中心" <95598>',
        variables={"HOTLINE_CALL": "c-1", "TICKET": "T9"},
        timeout_s=30,
        action_id="cb-1",
    )
    assert result.success and result.reason_code == 4 and result.reason_text == "answered"
    assert result.uniqueid == "1700000000.42"
    assert result.channel == "PJSIP/13800000000@trunk"
    assert result.raw.event == "OriginateResponse"
    sent = next(a for a in fake.actions if a.get("Action") == "Originate")
    assert sent.get("Async") == "true" and sent.get("Timeout") == "30000"
    assert sent.get("CallerID") == '"客服中心" <95598>'
    assert sent.get_all("Variable") == ["HOTLINE_CALL=c-1", "TICKET=T9"]
    event = await next_event(queue, "OriginateResponse")  # also a call event for the tracker
    assert event.action_id == "cb-1"


@pytest.mark.parametrize("outcome", ["failure", "event_first"])
async def test_originate_failure_and_event_before_response(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem], outcome: str
) -> None:
    await up(queue)
    fake.originate_outcome = outcome
    result = await client.originate(
        channel="PJSIP/x@trunk",
        context="cb",
        exten="s",
        caller_id="95598",
        variables={},
        timeout_s=5,
        action_id=f"cb-{outcome}",
    )
    if outcome == "failure":
        assert not result.success and result.reason_code == 5 and result.reason_text == "busy"
        assert result.uniqueid is None
    else:
        assert result.success
    assert client.connected


async def test_originate_refused_raises_ami_error(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    fake.originate_outcome = "error"
    with pytest.raises(AmiError, match="Invalid channel"):
        await client.originate(
            channel="Bogus/1",
            context="cb",
            exten="s",
            caller_id="1",
            variables={},
            timeout_s=5,
            action_id="cb-err",
        )


async def test_originate_rejects_header_injection(
    client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    with pytest.raises(ValueError, match="one line"):
        await client.originate(
            channel="PJSIP/1",
            context="cb",
            exten="s",
            caller_id="x\r\nAction: Logoff",
            variables={},
            timeout_s=5,
            action_id="cb-inj",
        )


async def test_originate_times_out(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    fake.originate_outcome = "hold"
    with pytest.raises(AmiTimeout):
        await client.originate(
            channel="PJSIP/1",
            context="cb",
            exten="s",
            caller_id="1",
            variables={},
            timeout_s=0.05,
            action_id="cb-slow",
        )
    assert client.connected


async def test_originate_when_down_raises_unavailable(
    fake: FakeAmi, queue: asyncio.Queue[AmiItem]
) -> None:
    c = make_client(fake, queue)
    with pytest.raises(AmiUnavailable, match="not sent"):
        await c.originate(
            channel="PJSIP/1",
            context="cb",
            exten="s",
            caller_id="1",
            variables={},
            timeout_s=5,
            action_id="cb-down",
        )
    assert fake.count("Originate") == 0


async def test_originate_in_flight_fails_on_drop_and_is_not_resent(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    fake.originate_outcome = "hold"
    call = asyncio.create_task(
        client.originate(
            channel="PJSIP/1",
            context="cb",
            exten="s",
            caller_id="1",
            variables={},
            timeout_s=30,
            action_id="cb-once",
        )
    )
    await until(lambda: fake.count("Originate") == 1)
    fake.drop()
    with pytest.raises(AmiUnavailable, match="not be re-sent"):
        await asyncio.wait_for(call, 2)
    await next_of(queue, LinkDown)
    await up(queue)
    await asyncio.sleep(0.3)  # past a ping round on the new link
    assert fake.count("Originate") == 1


async def test_bad_secret_is_logged_and_retried_with_backoff(
    fake: FakeAmi, queue: asyncio.Queue[AmiItem], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "hotline.telephony.ami")
    c = make_client(fake, queue, secret="wrong-secret", reconnect_min=0.05, reconnect_max=0.2)
    await c.start()
    await asyncio.sleep(0.8)
    await c.stop()
    attempts = fake.login_times
    assert 3 <= len(attempts) <= 7, attempts  # 0, .05, .15, .35, .55, .75: no tight loop
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # the waits double (0.05, 0.1, 0.2 s): each gap is at least its wait, however busy the
    # machine (a busy machine only makes gaps longer, so ratios between them prove nothing)
    for gap, wait in zip(gaps, (0.05, 0.1, 0.2, 0.2, 0.2, 0.2), strict=False):
        assert gap >= wait * 0.95, (gaps, wait)
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert refused and refused[0].levelno == logging.ERROR
    text = refused[0].getMessage()
    assert "'hotline'" in text and f"127.0.0.1:{fake.port}" in text
    assert "wrong-secret" not in caplog.text
    assert queue.empty()  # never up: no LinkUp, no LinkDown
    assert not c.connected


async def test_stop_is_clean(fake: FakeAmi, queue: asyncio.Queue[AmiItem]) -> None:
    c = make_client(fake, queue)
    await c.start()
    await up(queue)
    await c.stop()
    assert fake.count("Logoff") == 1
    assert isinstance(await next_of(queue, LinkDown), LinkDown)
    assert not c.connected
    mine = [t for t in asyncio.all_tasks() if (t.get_name() or "").startswith("ami")]
    assert mine == []
    await asyncio.sleep(0.3)
    assert fake.connections == 1  # no reconnect after stop


async def test_send_action_returns_the_switch_answer(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    fake.members = {"kefu": {"PJSIP/8001": True}}
    reply = await client.send_action(
        {"Action": "QueuePause", "Interface": "PJSIP/8001", "Paused": "true", "Reason": "小休"}
    )
    assert reply.message == "Interface paused successfully"
    sent = next(a for a in fake.actions if a.get("Action") == "QueuePause")
    assert sent.get("Reason") == "小休" and (sent.action_id or "").startswith("hotline-")


async def test_send_action_queue_add_is_answered_by_its_one_response(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    """app_queue answers QueueAdd with `Message: Added interface to queue` and nothing more;
    panoramisk takes that message for the start of a list and waited for the rest."""
    await up(queue)
    fake.members = {"kefu": {}}
    action = {"Action": "QueueAdd", "Queue": "kefu", "Interface": "PJSIP/8002"}
    reply = await client.send_action(action, timeout_s=2)
    assert reply.message == "Added interface to queue" and reply.events == ()
    assert fake.members == {"kefu": {"PJSIP/8002": True}}
    with pytest.raises(AmiError, match="Already there"):
        await client.send_action(action, timeout_s=2)


async def test_send_action_lists_events(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    reply = await client.send_action({"Action": "QueueStatus"})
    assert [f.event for f in reply.events] == ["QueueParams", "QueueMember", "QueueEntry"]


async def test_send_action_refused_carries_the_switch_message(
    fake: FakeAmi, client: AmiClient, queue: asyncio.Queue[AmiItem]
) -> None:
    await up(queue)
    with pytest.raises(AmiError, match="Interface not found") as caught:
        await client.send_action({"Action": "QueuePause", "Interface": "PJSIP/9", "Paused": "1"})
    assert caught.value.said == "Interface not found"
    assert client.connected


async def test_send_action_when_down_is_unavailable(
    fake: FakeAmi, queue: asyncio.Queue[AmiItem]
) -> None:
    client = make_client(fake, queue)  # never started: no link
    with pytest.raises(AmiUnavailable, match="not sent"):
        await client.send_action({"Action": "QueueRemove", "Queue": "q", "Interface": "x"})
