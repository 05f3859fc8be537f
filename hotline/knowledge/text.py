"""How knowledge articles and a caller's words are made comparable. Rule: pure; both sides
become the same sound grams, pairs of neighbouring syllables read without tone and folded
the way callers and the recogniser blur them (zh/z, ch/c, sh/s, n/l, r/l, f/h, -ng/-n), so
an article is found by homophones and near-homophones of its words, on any database.

Traditional characters are read as simplified first (the transcripts' `normalize`);
spaces and punctuation split the text; a digit or Latin letter run is one token.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from hotline.asr.transcript import normalize

_INITIALS = ("zh", "ch", "sh", *"bpmfdtnlgkhjqxrzcsyw")
FOLD_INITIALS = {"zh": "z", "ch": "c", "sh": "s", "n": "l", "r": "l", "f": "h"}
FOLD_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"))
_HAN = re.compile(r"[\u3400-\u9fff]")
_TOKENS = re.compile(r"[\u3400-\u9fff]+|[0-9A-Za-z]+")
# syllable pairs of talk that say nothing about the question (你好, 请问, 我家, 一下 ...)
STOP = frozenset(
    {
        "li-hao",
        "qin-wen",
        "wo-jia",
        "wo-men",
        "yi-xia",
        "zei-ge",
        "ze-ge",
        "la-ge",
        "jiu-si",
        "ke-yi",
        "si-bu",
        "bu-si",
        "wo-de",
        "li-de",
        "le-ma",
        "xie-xie",
        "wei-ni",
        "wei-li",
        "li-men",
        "sen-me",
        "ze-me",
        "de-si",
        "you-ge",
        "wo-xian",
        "wo-yao",
        "wo-ze",
        "zen-me",
        "you-mei",
        "mei-you",
    }
)


@lru_cache(maxsize=65536)
def fold(syllable: str) -> str:
    """A toneless pinyin syllable folded to its near-homophone class: zhang -> zan."""
    s = syllable.lower()
    initial = next((i for i in _INITIALS if s.startswith(i)), "")
    final = s[len(initial) :]
    initial = FOLD_INITIALS.get(initial, initial)
    for suffix, repl in FOLD_FINALS:
        if final.endswith(suffix):
            final = final[: -len(suffix)] + repl
            break
    return initial + final


def syllables(text: str) -> list[list[str]]:
    """The folded syllables of `text`, one list per run between spaces and punctuation."""
    runs: list[list[str]] = []
    current: list[str] = []
    flat = normalize(text)
    pos = 0
    for m in _TOKENS.finditer(flat):
        if m.start() != pos and current:
            runs.append(current)
            current = []
        pos = m.end()
        token = m.group()
        if _HAN.match(token):
            current.extend(fold(p) for p in lazy_pinyin(token, style=Style.NORMAL))
        else:
            current.append(token.lower())
    if current:
        runs.append(current)
    return runs


def grams(text: str) -> set[str]:
    """The sound grams of `text`: neighbouring syllable pairs (`ran-qi`), talk pairs left out;
    a run of one syllable is a gram of its own."""
    out: set[str] = set()
    for run in syllables(text):
        if len(run) == 1:
            out.add(run[0][:32])
        for a, b in itertools.pairwise(run):
            g = f"{a}-{b}"[:32]
            if g not in STOP:
                out.add(g)
    return out


def weighted_grams(title: str, keywords: Iterable[str], body: str) -> dict[str, int]:
    """An article's grams with their weight: 3 for its title and keywords, 1 for its body."""
    weights = dict.fromkeys(grams(body), 1)
    for g in grams(title) | set().union(*(grams(k) for k in keywords)):
        weights[g] = 3
    return weights


def score(matched_weights: Iterable[int], documents_with: Iterable[int], total: int) -> float:
    """An article's score for a query: its matched grams' weights, each times how rare the
    gram is among the articles (idf)."""
    return sum(
        w * math.log(1 + total / max(1, df))
        for w, df in zip(matched_weights, documents_with, strict=True)
    )


def split_keywords(raw: str | Iterable[str]) -> list[str]:
    parts = re.split(r"[,，;；、\s]+", raw) if isinstance(raw, str) else list(raw)
    return list(dict.fromkeys(p.strip() for p in parts if p.strip()))
