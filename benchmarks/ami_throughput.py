"""AMI throughput: Hotline's full path against panoramisk alone, on the same stream.

The stream is the real Asterisk 22.9 capture of 16 queue call shapes
(tests/data/ami/verbara), repeated with fresh Uniqueids/Linkedids until it holds at
least 100,000 events, served over loopback TCP by a small AMI server.

- full: AmiClient (framing, queue) -> CallService (parse, tracker, SQLite store in WAL
  mode with every call record written) until every frame is handled and saved;
- raw: panoramisk's Manager receiving the same bytes and discarding each event.

Run: .venv/bin/python benchmarks/ami_throughput.py [--events 100000] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from panoramisk import Manager  # noqa: E402

from hotline.core import db  # noqa: E402
from hotline.core.bus import Bus  # noqa: E402
from hotline.telephony import events  # noqa: E402
from hotline.telephony.ami import AmiClient, AmiItem  # noqa: E402
from hotline.telephony.frames import FrameReader  # noqa: E402
from hotline.telephony.model import RingRule  # noqa: E402
from hotline.telephony.service import CallService  # noqa: E402
from hotline.telephony.store import CallStore  # noqa: E402
from hotline.telephony.tracker import CallTracker  # noqa: E402
from tests.telephony.fake_ami import FakeAmi  # noqa: E402

CAPTURE = ROOT / "tests/data/ami/verbara/queue-shapes-asterisk-22.9.0.raw"
IDS = re.compile(rb"^((?:Dest)?(?:Uniqueid|Linkedid): \d+\.\d+)", re.MULTILINE)


def make_stream(min_events: int) -> tuple[bytes, int]:
    raw = CAPTURE.read_bytes()
    body = raw.split(b"\r\n", 1)[1]  # without the banner
    per_copy = body.count(b"\r\n\r\n")
    copies = -(-min_events // per_copy)
    parts = [IDS.sub(lambda m, k=k: m.group(1) + b"%05d" % k, body) for k in range(copies)]
    return b"".join(parts), per_copy * copies


async def run_full(stream: bytes, count: int, db_url: str) -> tuple[float, CallService]:
    engine = db.make_engine(db_url)
    await db.migrate(engine)
    service = CallService(
        CallTracker(RingRule(), frozenset({38, 41})),
        CallStore(db.session_factory(engine)),
        Bus(),
        end_unknown_after=timedelta(hours=4),
    )
    server = FakeAmi()
    await server.start()
    queue: asyncio.Queue[AmiItem] = asyncio.Queue()
    client = AmiClient(
        "127.0.0.1",
        server.port,
        server.username,
        server.secret,
        queue=queue,
        only_events=events.USED_EVENTS,  # as `hotline serve` sets it
    )
    await client.start()
    consumer = asyncio.create_task(service.run(queue))
    while service.counters.frames == 0 and queue.qsize() == 0 and not client.connected:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # login, resync done
    base = service.counters.frames
    # the frames the client keeps (it drops unused event types unparsed, as in production)
    kept = len(FrameReader(only_events=events.USED_EVENTS).feed(stream))
    t0 = time.perf_counter()
    await server.push(stream)
    while service.counters.frames - base < kept or queue.qsize():
        await asyncio.sleep(0.005)
    await queue.join()  # the last batch is saved
    elapsed = time.perf_counter() - t0
    await client.stop()
    consumer.cancel()
    await server.close()
    await engine.dispose()
    return elapsed, service


async def run_raw(stream: bytes, count: int) -> float:
    server = FakeAmi()
    await server.start()
    seen = 0
    done = asyncio.Event()

    def discard(_manager: object, _message: object) -> None:
        nonlocal seen
        seen += 1
        if seen >= count:
            done.set()

    manager = Manager(
        host="127.0.0.1",
        port=server.port,
        username=server.username,
        secret=server.secret,
        ping_delay=3600,
        loop=asyncio.get_running_loop(),
    )
    manager.register_event("*", discard)
    await manager.connect()
    while not manager.authenticated:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    seen = 0
    t0 = time.perf_counter()
    await server.push(stream)
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.perf_counter() - t0
    manager.close()
    await server.close()
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--db", help="database URL (default: a SQLite file in a temp dir)")
    args = parser.parse_args()
    stream, count = make_stream(args.events)
    print(f"stream: {count:,} events, {len(stream) / 1e6:.1f} MB, over loopback TCP")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite+aiosqlite:///{tmp}/bench.db"
        raw_s = await run_raw(stream, count)
        full_s, service = await run_full(stream, count, url)
    raw_rate, full_rate = count / raw_s, count / full_s
    print(f"panoramisk alone (receive, discard): {raw_rate:>10,.0f} events/s  ({raw_s:.2f} s)")
    print(f"hotline full path (parse, track, store): {full_rate:>6,.0f} events/s  ({full_s:.2f} s)")
    print(f"ratio full/raw: {full_rate / raw_rate:.2f}")
    c = service.counters
    print(f"records saved: {c.saved:,}  malformed: {c.malformed}  db retries: {c.db_retries}")


if __name__ == "__main__":
    asyncio.run(main())
