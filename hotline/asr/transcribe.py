"""Recordings to transcripts. Rule: every channel is transcribed on its own and its
utterances tagged with it; a worker thread uses only its own recognizer (VoskEngine keeps
one per thread), so the pool size is the number of recognizers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from hotline.asr import audio_input
from hotline.asr.transcript import Channel, Transcript
from hotline.asr.vosk import VoskEngine


def transcribe_file(engine: VoskEngine, path: str | Path) -> Transcript:
    """Decode `path` and transcribe its channels one after another on this thread."""
    pcm_by_channel = audio_input.channels(path, sample_rate=audio_input.SAMPLE_RATE)
    channels = tuple(
        engine.transcribe_pcm(pcm, audio_input.SAMPLE_RATE, Channel(name))
        for name, pcm in pcm_by_channel.items()
    )
    longest = max((len(pcm) for pcm in pcm_by_channel.values()), default=0)
    return Transcript(
        channels=channels,
        model_id=engine.model_id,
        vosk_version=engine.vosk_version,
        duration_s=round(longest / 2 / audio_input.SAMPLE_RATE, 3),
    )


def transcribe_many(
    engine: VoskEngine,
    paths: Iterable[str | Path],
    workers: int | None = None,
    *,
    pool: ThreadPoolExecutor | None = None,
) -> Iterator[tuple[Path, Transcript | Exception]]:
    """Transcribe `paths` on `workers` threads (default: one per core), yielding each path
    with its transcript or the exception that stopped it, in the order they finish; one
    bad file does not stop the others. The model is loaded first, so a ModelError is raised
    once here rather than returned for every file. At most 2 x workers files are in flight,
    so `paths` may be a long generator. Stopping the iteration cancels what has not started.

    A new thread means a new recognizer, whose first seconds of audio cost about 2 s more
    with a small (lookahead-graph) model: a long-lived caller passes its own `pool` (of
    `workers` threads), kept from batch to batch, rather than paying that per call.
    """
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    engine.load()
    pending: dict[Future[Transcript], Path] = {}
    todo = iter(paths)
    own_pool = pool is None
    if pool is None:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr")
    try:
        while True:
            for raw in todo:
                path = Path(raw)
                pending[pool.submit(transcribe_file, engine, path)] = path
                if len(pending) >= 2 * workers:
                    break
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                path = pending.pop(future)
                exc = future.exception()
                yield path, (future.result() if exc is None else _as_exception(exc))
    finally:
        if own_pool:
            pool.shutdown(wait=True, cancel_futures=True)
        else:
            for future in pending:
                future.cancel()


def _as_exception(exc: BaseException) -> Exception:
    if isinstance(exc, Exception):
        return exc
    raise exc  # KeyboardInterrupt, SystemExit: not a per-file failure
