"""Draw the README's screenshots of the 质检 pages: `python -m tests.web.quality_screenshots
[DIR]` (default docs/screenshots). Same data and browser as the browser tests; the calls are
spoken by espeak-ng, one utterance after another on its own channel, and scored by the real
scorer (tests/web/review_seed.py), so the waveform, transcript and hits belong together."""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect, sync_playwright

from hotline.asr.transcript import Channel, Transcript, Utterance, Word
from tests.recording.audio_fixtures import concat, duration, silence, speech
from tests.web.conftest import open_signed_in
from tests.web.review_seed import seed_scored_call, two_channel_transcript
from tests.web.world import CHROMIUM, CHROMIUM_ARGS, World

AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
C, A = Channel.CUSTOMER, Channel.AGENT
# (call, agent, number, the conversation in turns); words apart as Vosk gives Chinese
CALLS = [
    (
        "9.1",
        "PJSIP/1001",
        "13600136000",
        [
            (A, "您好 燃气 客服 中心 一 零 零 一 号 请问 有 什么 可以 帮 您"),
            (C, "我 家 的 燃气 表 坏 了 一直 在 响"),
            (A, "我 不 知道 你 自己 先 查 清楚"),
            (C, "我 查 过 了 还是 有 气味"),
            (A, "请 您 留 个 地址 明天 派 人 过去"),
            (C, "好 吧 地址 是 幸福 路 八 号"),
        ],
    ),
    (
        "9.2",
        "PJSIP/1002",
        "13900139000",
        [
            (A, "您好 燃气 客服 中心 请问 有 什么 可以 帮 您"),
            (C, "我 想 查 一下 这个 月 的 燃气 费"),
            (A, "好 的 请 您 稍 等 本月 燃气 费 是 一百 二十 元"),
            (C, "好 的 谢谢"),
            (A, "请问 您 还有 其他 问题 吗 再见"),
        ],
    ),
]


def _spoken(work: Path, turns: list[tuple[Channel, str]]) -> tuple[Path, Path, Transcript]:
    """The two legs of a conversation and its transcript: each turn spoken on its channel
    while the other is silent, its words spread over the turn's real length."""
    work.mkdir(parents=True, exist_ok=True)
    parts: dict[Channel, list[Path]] = {C: [], A: []}
    said: dict[Channel, list[Utterance]] = {C: [], A: []}
    t, at = 0.5, {C: 0.0, A: 0.0}
    for i, (channel, text) in enumerate(turns):
        voice = speech(work / f"t{i}.wav", "".join(text.split()), speed=150)
        d = duration(voice)
        parts[channel] += [silence(work / f"g{i}.wav", t - at[channel]), voice]
        at[channel] = t + d
        tokens = text.split()
        words = tuple(
            Word(
                w,
                round(t + k * d / len(tokens), 3),
                round(t + (k + 1) * d / len(tokens), 3),
                0.4 if w == "燃气" and channel is C else 0.95,
            )
            for k, w in enumerate(tokens)
        )
        said[channel].append(Utterance(text, words, "".join(tokens), t, t + d, channel))
        t += d + 0.8
    legs = []
    for channel, name in ((C, "in"), (A, "out")):
        tail = silence(work / f"tail-{name}.wav", t - at[channel])
        legs.append(concat(work / f"leg-{name}.wav", *parts[channel], tail))
    return legs[0], legs[1], two_channel_transcript(said[C], said[A], t)


def _seed(
    world: World,
    base: Path,
    call_id: str,
    agent: str,
    number: str,
    turns: list[tuple[Channel, str]],
    at: datetime,
) -> None:
    leg_in, leg_out, transcript = _spoken(base / f"speech-{call_id}", turns)

    async def work(sessions: Any) -> None:
        await seed_scored_call(
            sessions, world.settings(), call_id=call_id, agent=agent, number=number, at=at,
            customer_leg=leg_in, agent_leg=leg_out, transcript=transcript, make_peaks=True,
        )  # fmt: skip

    world.run(work)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp())
    world = World(base)
    world.seed()
    for n, (call_id, agent, number, turns) in enumerate(CALLS):
        _seed(world, base, call_id, agent, number, turns, AT + timedelta(minutes=7 * n))
    world.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(
                base_url=world.base_url, viewport={"width": 1366, "height": 768}, locale="zh-CN"
            )
            page = context.new_page()
            open_signed_in(page, "zhao", "/quality")
            expect(page.get_by_role("heading", name="质检复核队列")).to_be_visible()
            page.screenshot(path=out / "quality-queue.png")
            page.get_by_role("link", name="复核 9.1").click()
            expect(page.get_by_role("heading", name="质检复核 · 通话 9.1")).to_be_visible()
            page.wait_for_function("performance.getEntriesByName('review:waveform').length > 0")
            expect(page.locator("#waveform-status")).to_have_text("")
            # played up to the agent's forbidden phrase, paused, its hit selected with j
            page.get_by_role("button", name="播放", exact=True).click()
            page.get_by_role("button", name="暂停", exact=True).wait_for()
            page.locator(".line", has_text="我不知道").first.click()
            page.wait_for_timeout(1200)
            page.get_by_role("button", name="暂停", exact=True).click()
            page.locator("body").click(position={"x": 5, "y": 700})
            page.keyboard.press("j")
            page.wait_for_timeout(500)
            page.screenshot(path=out / "quality-review.png")
            browser.close()
    finally:
        world.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
