"""Supervised loops: a loop that dies is logged with its cause and restarted with backoff."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from hotline.core.loops import Loops


async def test_a_loop_that_dies_is_logged_with_its_cause_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = 0
    healthy = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise TimeoutError("QueuePool limit of size 5 overflow 10 reached")
        if runs == 2:
            return  # ended by itself: restarted too
        healthy.set()
        await asyncio.Event().wait()

    loops = Loops(backoff_s=0.05, max_backoff_s=0.2)
    with caplog.at_level(logging.ERROR, logger="hotline.core.loops"):
        loops.start("callbacks", flaky)
        async with asyncio.timeout(5):
            await healthy.wait()
    [state] = loops.states()
    assert state.name == "callbacks" and state.running and state.restarts == 2
    assert state.last_error == "ended by itself"
    text = caplog.text
    assert "loop callbacks died (TimeoutError: QueuePool limit" in text
    assert "loop callbacks ended by itself" in text
    await loops.stop()
    assert loops.states() == []


async def test_the_backoff_doubles_up_to_its_cap() -> None:
    starts: list[float] = []

    async def dies() -> None:
        starts.append(asyncio.get_running_loop().time())
        raise RuntimeError("boom")

    loops = Loops(backoff_s=0.05, max_backoff_s=0.1)
    loops.start("purge", dies)
    async with asyncio.timeout(5):
        while len(starts) < 4:
            await asyncio.sleep(0.01)
    await loops.stop()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 0.045 and gaps[1] >= 0.095 and gaps[2] >= 0.095
    assert max(gaps) < 0.5
