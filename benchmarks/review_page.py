"""The 质检 review page of a 10-minute call: from navigation to waveform drawn and audio
playable, measured in the browser (Performance API), against a blank page load measured in
the same run.

The call: a 10-minute two-channel 8 kHz recording transcoded to Opus as the archiver does
it, its peaks made as the archive stage makes them, a transcript of an utterance every
5 s (120 per channel), and a score from the real scorer; the real app served by uvicorn,
the user signed in once, Chromium (Debian's /usr/bin/chromium) at 1366x768.

Per round, in one browser tab: a blank page (`/static/app.css`, navigation to
loadEventEnd) as the baseline, then the review page: `review:waveform` (wavesurfer's
first redraw of the server's peaks, since navigation start), then 播放 is pressed at once
(the page fetches no audio before: opening it is not a listen) and `review:playable` (the
audio element's canplay) is measured from that press; "ready" is the waveform plus that
wait. Printed: the median and best of each, and ready / baseline. Aim: ready under 1 s.

Run: .venv/bin/python benchmarks/review_page.py [--rounds 7] [--minutes 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from hotline.asr.transcript import Channel  # noqa: E402
from tests.web.conftest import sign_in  # noqa: E402
from tests.web.review_seed import (  # noqa: E402
    long_legs,
    said,
    seed_scored_call,
    two_channel_transcript,
)
from tests.web.world import CHROMIUM, CHROMIUM_ARGS, World  # noqa: E402

AIM_MS = 1000.0
CUSTOMER = ["我 家 燃气 表 坏 了 请 派 人 来 修", "好 的 谢谢 你", "什么 时候 能 到"]
AGENT = ["您好 请问 有 什么 可以 帮 您", "我 不 知道 你 自己 先 查 清楚", "请 您 稍 等"]


def seed(base: Path, minutes: float) -> World:
    seconds = minutes * 60
    w = World(base)
    w.seed()
    cust, agent = long_legs(base / "legs", seconds)
    customer = [
        said(CUSTOMER[i % 3], t, Channel.CUSTOMER, frozenset({"燃气"}))
        for i, t in enumerate(range(0, int(seconds) - 5, 10))
    ]
    agents = [
        said(AGENT[i % 3], t + 5, Channel.AGENT)
        for i, t in enumerate(range(0, int(seconds) - 5, 10))
    ]
    transcript = two_channel_transcript(customer, agents, seconds)

    async def work(sessions: Any) -> None:
        await seed_scored_call(
            sessions,
            w.settings(),
            call_id="bench.1",
            agent="PJSIP/1001",
            number="13600136000",
            at=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1),
            customer_leg=cust,
            agent_leg=agent,
            transcript=transcript,
            make_peaks=True,
        )

    w.run(work)
    return w


BLANK = "performance.getEntriesByType('navigation')[0].loadEventEnd"
READY = """() => new Promise((resolve) => {
  const get = (n) => (performance.getEntriesByName(n)[0] || {}).startTime;
  let pressed = false;
  const tick = () => {
    const w = get('review:waveform'), p = get('review:playable');
    if (w !== undefined && !pressed) {
      pressed = true;
      document.getElementById('play').click();
    }
    if (w !== undefined && p !== undefined) resolve([w, p - get('review:play')]);
    else setTimeout(tick, 10);
  };
  tick();
})"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"seeding a {args.minutes:g}-minute scored call…", flush=True)
        world = seed(Path(tmp), args.minutes)
        world.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(
                    base_url=world.base_url, viewport={"width": 1366, "height": 768}
                )
                page = context.new_page()
                page.goto("/login")
                sign_in(page, "zhao")
                page.wait_for_url("**/")
                blank: list[float] = []
                waveform: list[float] = []
                playable: list[float] = []
                for _ in range(args.rounds):
                    page.goto("/static/app.css")
                    blank.append(float(page.evaluate(BLANK)))
                    page.goto("/quality/calls/bench.1")
                    w, pl = page.evaluate(READY)
                    waveform.append(float(w))
                    playable.append(float(pl))
                browser.close()
        finally:
            world.stop()
    ready = [a + b for a, b in zip(waveform, playable, strict=True)]
    base = statistics.median(blank)
    print(f"rounds: {args.rounds}, call: {args.minutes:g} min, two channels")
    for name, values in (
        ("blank page (baseline)", blank),
        ("waveform drawn", waveform),
        ("play pressed to playable", playable),
        ("ready (both)", ready),
    ):
        print(f"{name:24} median {statistics.median(values):7.1f} ms  best {min(values):7.1f} ms")
    median_ready = statistics.median(ready)
    print(f"ready / baseline: {median_ready / max(base, 0.1):.1f}x")
    verdict = "met" if median_ready < AIM_MS else "NOT met"
    print(f"aim: ready under {AIM_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
