"""A wallboard tab's main-thread cost at a real centre's size, beside the latency benchmark:
Chromium's own counters (CDP `Performance.getMetrics`: task, script, layout and style
time) per second of wall time, over 15 s of steady state with a caller joining every
second, in a few tabs. Less sensitive than latency to what else runs on the machine.

Same set-up as benchmarks/wallboard_latency.py (fake AMI with 60 queues and 750 agents, the
real app in its own process, /usr/bin/chromium).

Run: .venv/bin/python benchmarks/wallboard_cpu.py [--pages 3] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import CDPSession, async_playwright  # noqa: E402

from benchmarks import wallboard_latency as bench  # noqa: E402
from tests.telephony.fake_ami import FakeAmi  # noqa: E402

KEYS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")


async def _metrics(cdps: list[CDPSession]) -> list[dict[str, float]]:
    out = []
    for cdp in cdps:
        got: dict[str, Any] = await cdp.send("Performance.getMetrics")
        out.append({m["name"]: float(m["value"]) for m in got["metrics"]})
    return out


async def measure(args: argparse.Namespace, ami: FakeAmi, port: int, n_hosts: int) -> None:
    await bench._wait_up(port)
    while not ami.count("QueueStatus"):
        await asyncio.sleep(0.2)
    host = bench.hosts(n_hosts)[0]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=bench.CHROMIUM, args=bench.CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1366, "height": 768})
        context.set_default_timeout(120_000)
        r = await context.request.post(
            f"http://{host}:{port}/login",
            form={"username": "chen", "password": bench.PASSWORD, "next": "/"},
            max_redirects=0,
        )
        assert r.status == 303, f"sign-in failed: {r.status}"
        cdps = []
        for _ in range(args.pages):
            page = await context.new_page()
            await page.goto(f"http://{host}:{port}/wallboard")
            await page.get_by_text("实时连接正常").wait_for()
            await page.locator("#wb-queues tr[data-queue]").first.wait_for()
            cdp = await context.new_cdp_session(page)
            await cdp.send("Performance.enable")
            cdps.append(cdp)
        await asyncio.sleep(3)
        before, t0 = await _metrics(cdps), time.perf_counter()
        for k in range(args.seconds):
            raw, _ = bench.join(k)
            await ami.push((bench.leave(k - 5) if k >= 5 else b"") + raw)
            await asyncio.sleep(1)
        after, dt = await _metrics(cdps), time.perf_counter() - t0
        await browser.close()
    print(f"{args.pages} wallboards, {dt:.0f} s, a caller joining each second; per second:")
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        parts = [
            f"{k.removesuffix('Duration').lower()} {(b[k] - a[k]) / dt * 1000:5.1f} ms"
            for k in KEYS
        ]
        print(f"tab {i}: " + "  ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    bench._measure = measure  # the same app, switch and sign-in; this measurement
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench.run(args, Path(tmp)))


if __name__ == "__main__":
    main()
