"""Archive throughput: Hotline's archiver against bare ffmpeg, on the same call recordings.

The corpus: N calls (default 200), each 1–5 minutes, two legs as MixMonitor's r()/t()
write them (8 kHz mono 16-bit WAV): espeak-ng speech (Mandarin and English) made once,
cut into turns with sox, the customer talking while the agent is silent and back. It is
generated once into a cache folder and reused.

- archiver: the archive stage's jobs on the embedded job queue (SQLite), concurrency =
  cores, as `serve` runs them: from `ArchiveStage.on_call_ended` for every call to the last
  row archived (settle check, probes, Opus stereo transcode, verification, sha256, fsync,
  rename, database and job updates);
- bare: the same ffmpeg command line (audio.transcode_args), `cores` processes at a time.

Printed: recordings/s of both, their ratio (aim >= 0.8), and archived bytes / WAV bytes
(aim <= 1/8).

Run: .venv/bin/python benchmarks/archive_throughput.py [--calls 200] [--cache DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotline.core import db  # noqa: E402
from hotline.core.bus import Bus  # noqa: E402
from hotline.core.jobs import SqlJobQueue  # noqa: E402
from hotline.core.pipeline import Pipeline, Stage  # noqa: E402
from hotline.recording import audio  # noqa: E402
from hotline.recording.archiver import ArchiveService  # noqa: E402
from hotline.recording.policy import RetentionPolicy  # noqa: E402
from hotline.recording.stage import ARCHIVE, ArchiveStage  # noqa: E402
from hotline.recording.store import RecordingStore, Status  # noqa: E402
from tests.factories import answered_call  # noqa: E402

CACHE = Path("/var/cache/hotline/bench-audio")
LINES = [
    ("cmn", "您好！我是客服中心一零零一号客服代表，请问有什么可以帮到您？"),
    ("cmn", "我家的燃气表坏了，已经两天没有热水了，请尽快派人上门维修。"),
    ("cmn", "好的，请您提供一下您的用户编号和详细地址，我帮您登记报修。"),
    ("cmn", "用户编号是三二零五八八一二，地址是建设路一百二十八号三单元。"),
    ("cmn", "已经为您生成工单，维修人员会在两小时内与您联系，请保持电话畅通。"),
    ("cmn", "请问您还有其他问题吗？感谢您的来电，再见。"),
    ("cmn", "上个月的水费为什么这么高？我家里平时只有两个人住。"),
    ("cmn", "请您不要着急，我帮您查询一下近三个月的用水记录。"),
    ("en", "Hello, I would like to report a gas leak near the main entrance of my building."),
    ("en", "Thank you for calling. Please stay away from the area, a team is on its way."),
]


def sh(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def make_corpus(cache: Path, calls: int) -> list[tuple[Path, Path]]:
    """`calls` pairs of legs (customer, agent); made once, then reused."""
    lines = cache / "lines"
    lines.mkdir(parents=True, exist_ok=True)
    turns: list[Path] = []
    for i, (voice, text) in enumerate(LINES):
        turn = lines / f"{i:02d}.wav"
        if not turn.exists():
            raw = lines / f"{i:02d}.raw.wav"
            sh("espeak-ng", "-v", voice, "-s", "165", "-w", raw, text)
            sh("sox", raw, "-r", "8000", "-c", "1", "-b", "16", turn, "norm", "-3")
            raw.unlink()
        turns.append(turn)
    gaps = {}
    for g in (0.4, 0.8, 1.5):
        gaps[g] = lines / f"gap{g}.wav"
        if not gaps[g].exists():
            sh("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", gaps[g], "trim", "0", str(g))
    silences: dict[Path, Path] = {}
    for t in turns:  # the other party is silent while one talks
        silences[t] = lines / f"silence-{t.stem}.wav"
        if not silences[t].exists():
            sh(
                "sox",
                "-n",
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                silences[t],
                "trim",
                "0",
                f"{wav_seconds(t):.4f}",
            )
    lengths = {t: wav_seconds(t) for t in turns}

    calls_dir = cache / "calls"
    calls_dir.mkdir(exist_ok=True)

    def one(k: int) -> tuple[Path, Path]:
        cust, agent = calls_dir / f"call{k:04d}-in.wav", calls_dir / f"call{k:04d}-out.wav"
        if cust.exists() and agent.exists():
            return cust, agent
        rng = random.Random(k)
        target = rng.uniform(60, 300)
        seq_c: list[Path] = []
        seq_a: list[Path] = []
        total, agent_turn = 0.0, True
        while total < target:
            t = rng.choice(turns)
            g = gaps[rng.choice(list(gaps))]
            talk, quiet = (seq_a, seq_c) if agent_turn else (seq_c, seq_a)
            talk += [t, g]
            quiet += [silences[t], g]
            total += lengths[t] + float(g.stem[3:])
            agent_turn = not agent_turn
        tmp_c, tmp_a = cust.with_suffix(".tmp.wav"), agent.with_suffix(".tmp.wav")
        sh("sox", *seq_c, tmp_c)
        sh("sox", *seq_a, tmp_a)
        tmp_c.rename(cust)
        tmp_a.rename(agent)
        return cust, agent

    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        return list(pool.map(one, range(calls)))


def bare_ffmpeg(pairs: list[tuple[Path, Path]], out: Path, parallel: int) -> float:
    def one(k: int) -> None:
        cust, agent = pairs[k]
        args = audio.transcode_args(
            {"customer": cust, "agent": agent}, out / f"{k}.ogg", codec="opus", bitrate_kbps=16
        )
        subprocess.run(args, check=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, range(len(pairs))))
    return time.perf_counter() - started


async def archiver(pairs: list[tuple[Path, Path]], work: Path, workers: int) -> tuple[float, int]:
    engine = db.make_engine(f"sqlite+aiosqlite:///{work / 'bench.db'}")
    await db.migrate(engine)
    store = RecordingStore(db.session_factory(engine))
    service = ArchiveService(
        store,
        Bus(),
        root=work / "archive",
        path_map={"/var/spool/asterisk/monitor": str(pairs[0][0].parent)},
        codec="opus",
        bitrate_kbps=16,
        workers=workers,
        retention=RetentionPolicy(),
    )
    jobs = SqlJobQueue(db.session_factory(engine), poll_s=0.05)
    stage = ArchiveStage(store, service, jobs)
    pipeline = Pipeline([Stage(ARCHIVE, stage.run)], jobs)
    t0 = datetime(2026, 11, 23, 2, tzinfo=UTC)
    started = time.perf_counter()
    runner = asyncio.create_task(jobs.run_worker(pipeline.handlers(), concurrency=workers))
    ids = []
    for k, (cust, _) in enumerate(pairs):
        stem = cust.name.removesuffix("-in.wav")
        rec = await stage.on_call_ended(
            answered_call(
                f"1790000000.{k}",
                at=t0 + timedelta(minutes=k),
                recording_file=f"/var/spool/asterisk/monitor/{stem}.wav",
            )
        )
        assert rec is not None
        ids.append(rec.id)
    while True:
        recs = [await store.get(i) for i in ids]
        if all(r is not None and r.status != Status.PENDING for r in recs):
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await engine.dispose()
    bad = [(r.id, r.reason) for r in recs if r is not None and r.status != Status.ARCHIVED]
    if bad:
        raise SystemExit(f"not archived: {bad[:5]}")
    return elapsed, sum(r.size_bytes or 0 for r in recs if r is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    cores = os.cpu_count() or 2

    t = time.perf_counter()
    pairs = make_corpus(args.cache, args.calls)
    wav_bytes = sum(c.stat().st_size + a.stat().st_size for c, a in pairs)
    minutes = sum(wav_seconds(c) for c, _ in pairs) / 60
    made_s = time.perf_counter() - t
    print(
        f"corpus: {len(pairs)} calls, {minutes:.0f} min of calls, two legs each, "
        f"{wav_bytes / 1e6:.0f} MB WAV ({made_s:.0f} s to make or find)"
    )
    for c, a in pairs:  # both runs start from the page cache
        c.read_bytes()
        a.read_bytes()

    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        work = Path(tmp)
        (work / "bare").mkdir()
        bare_s = bare_ffmpeg(pairs, work / "bare", cores)
        bare_bytes = sum(p.stat().st_size for p in (work / "bare").iterdir())
        shutil.rmtree(work / "bare")
        full_s, archived_bytes = asyncio.run(archiver(pairs, work, cores))

    n = len(pairs)
    print(f"bare ffmpeg ({cores} at a time): {n / bare_s:6.2f} recordings/s ({bare_s:.1f} s)")
    print(f"archiver (workers={cores}):      {n / full_s:6.2f} recordings/s ({full_s:.1f} s)")
    print(f"ratio archiver/bare: {bare_s / full_s:.2f} (aim >= 0.8)")
    ratio = archived_bytes / wav_bytes
    print(
        f"storage archived/WAV: {ratio:.4f} = 1/{1 / ratio:.1f} (aim <= 1/8); "
        f"bytes: WAV {wav_bytes}, archived {archived_bytes}, bare ffmpeg {bare_bytes}"
    )


if __name__ == "__main__":
    main()
