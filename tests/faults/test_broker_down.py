"""Fault: the MQTT broker is down for a while (a TCP proxy in front of Mosquitto cuts it).
Calls go on through every stage as if nothing happened, and the real-time events queued
meanwhile reach the broker once it is back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt

from hotline.core.settings import MqttSettings
from tests.faults import rig
from tests.faults.proxy import Proxy


async def test_the_broker_down_loses_nothing(tmp_path: Path) -> None:
    proxy = Proxy("127.0.0.1", 1883)
    await proxy.start()
    prefix = f"hotline-fault-{proxy.port}"
    s = rig.settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
        mqtt=MqttSettings(host="127.0.0.1", port=proxy.port, topic_prefix=prefix),
    )
    archived: set[int] = set()

    async def listen(ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", 1883) as client:  # straight to the broker
            await client.subscribe(f"{prefix}/recording/archived", qos=1)
            ready.set()
            async for message in client.messages:
                archived.add(json.loads(bytes(message.payload))["id"])  # type: ignore[arg-type]

    ready = asyncio.Event()
    listener = asyncio.create_task(listen(ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with rig.running(s, rig.template(tmp_path)) as r:
            await r.end_call(1)
            await r.archived(1)
            await proxy.cut()  # the broker is away
            mqtt = r.c.mqtt
            assert mqtt is not None
            for n in (2, 3, 4):
                await r.end_call(n)
            await r.archived(4)  # the pipeline does not wait for the broker
            async with asyncio.timeout(10):
                while mqtt.connected:  # the publisher has noticed (on its next publish)
                    await asyncio.sleep(0.05)
            await proxy.restore()
            counts = await r.settle()
            async with asyncio.timeout(20):
                while len(archived) < 4:
                    await asyncio.sleep(0.1)
            print(counts.line("broker down ~3 s"))
            assert counts.nothing_lost and counts.calls_ended == 4, counts
            assert archived == {1, 2, 3, 4}  # the events queued meanwhile arrived
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await proxy.close()
