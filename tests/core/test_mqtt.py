"""Real-time events reach the Mosquitto broker of this machine, as JSON at QoS 1."""

from __future__ import annotations

import asyncio
import json
import uuid

import aiomqtt
import pytest

from hotline.core.bus import Bus, Message
from hotline.core.mqtt import MqttPublisher

pytestmark = pytest.mark.mqtt
BROKER = ("127.0.0.1", 1883)


async def test_a_call_event_arrives_on_the_broker_as_chinese_json() -> None:
    prefix = f"hotline-test-{uuid.uuid4().hex[:8]}"
    bus = Bus()
    publisher = MqttPublisher(*BROKER, prefix=prefix, client_id=prefix)
    bus.subscribe("", publisher.handle)
    try:
        async with aiomqtt.Client(BROKER[0], BROKER[1], identifier=prefix + "-sub") as sub:
            await sub.subscribe(f"{prefix}/#", qos=1)
            publisher.start()
            await bus.publish(Message("call/answered", {"call_id": "1.1", "caller_name": "张三"}))
            async with asyncio.timeout(10):
                message = await anext(aiter(sub.messages))
    except aiomqtt.MqttError as exc:
        pytest.fail(
            f"Mosquitto at {BROKER} is not reachable ({exc}): start it with "
            "`mosquitto -d -c /etc/mosquitto/mosquitto.conf`"
        )
    finally:
        await publisher.stop()
    assert str(message.topic) == f"{prefix}/call/answered"
    assert message.qos == 1
    body = json.loads(message.payload)  # type: ignore[arg-type]
    assert body["caller_name"] == "张三" and body["topic"] == "call/answered"


async def test_no_broker_listening_never_blocks_or_breaks_the_publisher() -> None:
    publisher = MqttPublisher("127.0.0.1", 1, prefix="x", max_pending=3)
    publisher.start()
    for i in range(5):
        await publisher.handle(Message("call/ended", {"n": i}))  # returns at once
    await asyncio.sleep(0.2)
    assert not publisher.connected
    await publisher.stop(drain_s=0.1)


async def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    bus = Bus()
    seen: list[str] = []

    async def broken(_: Message) -> None:
        raise RuntimeError("boom")

    async def good(m: Message) -> None:
        seen.append(m.topic)

    bus.subscribe("", broken)
    bus.subscribe("call/", good)
    bus.subscribe("callback/", good)
    await bus.publish(Message("call/ended", {}))
    assert seen == ["call/ended"]
