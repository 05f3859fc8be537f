"""Scoring throughput: the full default pack against a bare multi-pattern scan, same texts.

The corpus: `--n` (default 10,000) calls of 3–5 minutes from the labelled generator of
tests/quality/corpus.py (gas, water, bank and bus hotlines, Vosk-like ASR noise at `--cer`,
default 25 %), generated and parsed into CallInput before the clock starts.

- scoring: `score_call(call, pack)` with the default zh-CN pack for every call: every
  rule, sound-tolerant phrase matching, evidence and times;
- bare: one pyahocorasick automaton of every phrase of the pack's phrase rules (greeting,
  closing, forbidden, abusive, politeness phrases and the organisation), `iter` over the
  normalized agent text of every call, counting matches.

One core: the process is pinned to one CPU (where the platform allows) and both run in
it, interleaved (scoring, bare, bare, scoring, ...) for `--rounds` rounds; the best of each
is compared. Printed: transcripts/s of both and the ratio bare/scoring (how many times
slower than a bare scan the full scoring is). Aim: scoring >= 500 transcripts/s. Each run
also prints the rate by the process's own CPU time: on a shared machine (the load average
is printed) other processes take turns on the pinned core and the wall-clock rate falls
with the load; the CPU-time rate is what one core of its own would do.

Run: .venv/bin/python benchmarks/quality_throughput.py [--n 10000] [--cer 0.25]
     [--rounds 2] [--seed 20240601]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ahocorasick  # noqa: E402

from hotline.quality.model import CallInput  # noqa: E402
from hotline.quality.pack import Pack, Phrase, load_pack  # noqa: E402
from hotline.quality.scoring import score_call  # noqa: E402
from hotline.telephony.model import RingRule  # noqa: E402
from tests.quality.corpus import make_call  # noqa: E402

AIM = 500.0


def pack_phrases(pack: Pack) -> list[str]:
    """Every phrase of every rule of the pack, and its organisation name(s)."""
    texts = {pack.config.organisation, *pack.config.organisation_aliases}
    for name in type(pack.rules).model_fields:
        rule = getattr(pack.rules, name)
        if rule is None:
            continue
        for value in rule.__dict__.values():
            if isinstance(value, tuple):
                texts.update(p.text for p in value if isinstance(p, Phrase))
    return sorted(texts)


def corpus(n: int, seed: int, cer: float) -> list[CallInput]:
    out = []
    for i in range(n):
        call = make_call(seed, i, cer)  # the labels and true speech are dropped here
        out.append(CallInput.from_dict(call.data))
        if (i + 1) % 2000 == 0:
            print(f"  {i + 1} calls made", flush=True)
    return out


def run_scoring(calls: list[CallInput], pack: Pack) -> tuple[float, float, int]:
    ring = RingRule()  # the settings default: 3 rings of 5 s
    t0, c0 = time.perf_counter(), time.process_time()
    hits = sum(len(score_call(c, pack, ring=ring).hits) for c in calls)
    return time.perf_counter() - t0, time.process_time() - c0, hits


def run_bare(texts: list[str], automaton: ahocorasick.Automaton) -> tuple[float, int]:
    t0 = time.perf_counter()
    found = 0
    for text in texts:
        for _ in automaton.iter(text):
            found += 1
    return time.perf_counter() - t0, found


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="transcripts to score")
    parser.add_argument("--cer", type=float, default=0.25, help="ASR character error rate")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, interleaved ABBA")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        where = f"pinned to CPU {core}"
    else:
        where = "not pinned (no sched_setaffinity here)"

    pack = load_pack()
    t = time.perf_counter()
    calls = corpus(args.n, args.seed, args.cer)
    texts = ["".join(u.normalized for u in c.agent) for c in calls]
    utts = sum(len(c.agent) + len(c.customer) for c in calls)
    chars = sum(len(x) for x in texts)
    print(
        f"corpus: {len(calls)} calls, {utts / len(calls):.0f} utterances and "
        f"{chars / len(calls):.0f} agent characters each, CER {args.cer:.0%} "
        f"({time.perf_counter() - t:.1f} s to make and parse, not timed); {where}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    phrases = pack_phrases(pack)
    automaton = ahocorasick.Automaton()
    for i, p in enumerate(phrases):
        automaton.add_word(p, i)
    automaton.make_automaton()
    print(f"pack {pack.label}: {len(phrases)} phrases in the bare automaton")

    gc.collect()
    gc.freeze()  # the corpus is long-lived: keep the collector off it in both runs
    runs: dict[str, list[float]] = {"scoring": [], "bare": []}
    cpu: list[float] = []
    for i in range(args.rounds):
        for kind in ("scoring", "bare") if i % 2 == 0 else ("bare", "scoring"):
            if kind == "scoring":
                secs, cpu_secs, count = run_scoring(calls, pack)
                cpu.append(cpu_secs)
                what = f"hits, {len(calls) / cpu_secs:.0f} transcripts/s of CPU time"
            else:
                secs, count = run_bare(texts, automaton)
                what = "phrase matches"
            runs[kind].append(secs)
            print(
                f"{kind + ':':9} {secs:7.2f} s  {len(calls) / secs:10.0f} transcripts/s  "
                f"{count} {what}  load {os.getloadavg()[0]:.2f}"
            )
    s_best, b_best = min(runs["scoring"]), min(runs["bare"])
    rate = len(calls) / s_best
    print(
        f"best: scoring {rate:.0f} transcripts/s (aim >= {AIM:.0f}: "
        f"{'met' if rate >= AIM else 'NOT met'}), bare scan {len(calls) / b_best:.0f} "
        "transcripts/s"
    )
    cpu_rate = len(calls) / min(cpu)
    print(
        f"best by CPU time: scoring {cpu_rate:.0f} transcripts/s (aim >= {AIM:.0f}: "
        f"{'met' if cpu_rate >= AIM else 'NOT met'})"
    )
    print(
        f"ratio (bare transcripts/s / scoring transcripts/s): best {s_best / b_best:.1f}, "
        f"sums {sum(runs['scoring']) / sum(runs['bare']):.1f}"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (ru_maxrss): {rss:.0f} MB")


if __name__ == "__main__":
    main()
