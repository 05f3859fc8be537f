"""Sound keys and fuzzy phrase search over ASR text. Rule: a phrase is found where the sound
keys of its characters line up with the heard text with at most the pack's number of edits;
spaces, punctuation, traditional/simplified and (near-)homophones never count as edits.

Every character maps to one sound key: its first pypinyin reading without tone, folded the
pack's way (zh→z, n→l, ing→in, ...), as one private-use code point, cached per character. A
line of text then becomes a string of keys, so search runs on str in C: an Aho-Corasick pass
finds the phrases' key bigrams, a count of them on one diagonal (the q-gram lemma) picks the
few places worth checking, and a small edit-distance alignment checks only those. Spans are
character offsets in the segment's normalized text (`Utterance.normalized`).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick
from pypinyin import Style, lazy_pinyin

from hotline.asr.transcript import normalize

# Characters that never count: whitespace and punctuation (ASCII, CJK, fullwidth).
_SKIP = (
    "".join(
        c
        for c in map(chr, [*range(0x21, 0x80), *range(0x2000, 0x2070), *range(0x3000, 0x3040)])
        if not c.isalnum()
    )
    + "".join(c for c in map(chr, range(0xFF00, 0xFF66)) if not c.isalnum())
    + " \t\r\n\f\v"
)
_SKIP_TABLE: dict[int, None] = dict.fromkeys(map(ord, _SKIP))
_SEP = "\x1f"  # between segments in a Doc (ASCII unit separator): its own key, never heard
_KEY_BASE = 0xE000  # keys are private-use code points from here
_INITIALS = ("zh", "ch", "sh", *"bpmfdtnlgkhjqxrzcsyw")
_CN_DIGITS = "零一二三四五六七八九"


def _is_han(c: str) -> bool:
    o = ord(c)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x3134F


class SoundKeys:
    """The per-character sound-key table of one pack's folding, filled lazily and cached."""

    def __init__(
        self,
        *,
        fold_initials: Mapping[str, str],
        fold_finals: Mapping[str, str],
        same_sound: Mapping[str, str],
        digit_sounds: Mapping[str, Sequence[str]],
    ) -> None:
        self._fold_initials = dict(fold_initials)
        self._fold_finals = sorted(fold_finals.items(), key=lambda kv: -len(kv[0]))
        self._same = dict(same_sound)
        self._ids: dict[str, str] = {}  # folded syllable -> key
        self._parts: dict[str, tuple[str, str]] = {}  # key -> (initial, final)
        self._table: dict[int, str | None] = dict.fromkeys(map(ord, _SKIP))
        self._known: set[str] = set(_SKIP)
        self._digit_table: dict[int, str] = {}
        for digit, syllables in digit_sounds.items():
            for syllable in syllables:
                self._digit_table[ord(self.syllable_key(syllable))] = digit

    def fold(self, syllable: str) -> str:
        """A toneless pinyin syllable folded to its near-homophone class, e.g. zhang -> zan."""
        return "".join(self._split(syllable))

    def _split(self, syllable: str) -> tuple[str, str]:
        syllable = syllable.lower()
        initial = next((i for i in _INITIALS if syllable.startswith(i)), "")
        final = syllable[len(initial) :]
        initial = self._fold_initials.get(initial, initial)
        for suffix, repl in self._fold_finals:
            if final.endswith(suffix):
                final = final[: len(final) - len(suffix)] + repl
                break
        return initial, final

    def syllable_key(self, syllable: str) -> str:
        initial, final = self._split(syllable)
        key = self._ids.get(initial + final)
        if key is None:
            key = self._ids[initial + final] = chr(_KEY_BASE + len(self._ids))
            self._parts[key] = (initial, final)
        return key

    def near(self, a: str, b: str) -> bool:
        """Two keys sound alike: the same initial or the same final (e.g. bang/ban, gui/hui)."""
        pa, pb = self._parts.get(a), self._parts.get(b)
        if pa is None or pb is None:
            return False
        return (pa[0] == pb[0] and pa[0] != "") or pa[1] == pb[1]

    def _learn(self, chars: Iterable[str]) -> None:
        for c in chars:
            self._known.add(c)
            self._table[ord(c)] = self._char_key(c)

    def _char_key(self, c: str) -> str:
        c = self._same.get(c, c)
        if c.isdigit() and unicodedata.digit(c, -1) >= 0:
            c = self._same.get(_CN_DIGITS[unicodedata.digit(c)], _CN_DIGITS[unicodedata.digit(c)])
        if _is_han(c):
            return self.syllable_key(lazy_pinyin(c, style=Style.NORMAL)[0])
        return c.lower()

    def keys(self, text: str) -> str:
        """One key per character of `text` that counts (spaces and punctuation dropped)."""
        missing = set(text).difference(self._known)
        if missing:
            self._learn(missing)
        return text.translate(self._table)

    def digits(self, keys: str) -> str:
        """Keys read as spoken digits: every key that sounds like a digit becomes that digit
        (幺/要/一/衣 -> 1, 两/二 -> 2, 零/灵/洞 -> 0, 四/是/十 -> 4, ...), others stay."""
        return keys.translate(self._digit_table)


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far a heard phrase may stray from the written one (from the pack)."""

    edits_by_len: tuple[tuple[int, int], ...]  # (phrase length from, edits allowed), ascending
    ends_min_len: int  # phrases this long may lose or change their first/last character
    subs_min_len: int  # phrases this long may have any character misheard; shorter ones only
    # for a near sound (same initial or same final), e.g. 帮 heard as 办 but not as 是
    protected: str  # characters that must be heard (negations): never dropped or replaced
    protect_below_len: int  # ... in phrases shorter than this (我不知道 is not 我知道)

    def edits(
        self, length: int, extra: int = 0, table: tuple[tuple[int, int], ...] | None = None
    ) -> int:
        allowed = extra
        for min_len, edits in table or self.edits_by_len:
            if length >= min_len:
                allowed = edits + extra
        # a match keeps at least one intact key pair (the bigram prefilter finds it)
        return max(0, min(allowed, length - 2))


@dataclass(frozen=True, slots=True)
class PhraseSpec:
    group: str  # what the phrase stands for, e.g. "forbidden_phrase"
    text: str
    exact: bool = False  # match these characters only, no sound tolerance
    unless: tuple[str, ...] = ()  # heard text containing one of these is not this phrase
    extra_edits: int = 0  # edits allowed beyond the pack's default for its length
    edits_by_len: tuple[tuple[int, int], ...] | None = None  # the rule's own table, if any


@dataclass(frozen=True, slots=True)
class Span:
    group: str
    phrase: str  # the phrase as written in the pack
    segment: int  # index of the segment (utterance) in the Doc
    start: int  # offsets in the segment's normalized text
    end: int
    text: str  # what was heard there
    edits: int


@dataclass(frozen=True, slots=True)
class Doc:
    """Segments (normalized utterance texts) prepared once for every phrase search."""

    texts: tuple[str, ...]
    keys: str  # each segment's keys, joined by _SEP
    key_starts: tuple[int, ...]  # offset of each segment in `keys`
    joined: str  # the texts joined by _SEP
    text_starts: tuple[int, ...]

    @classmethod
    def of(cls, texts: Sequence[str], sound: SoundKeys) -> Doc:
        joined = _SEP.join(texts)
        keys = sound.keys(joined)  # one pass; _SEP is no skipped character, so it stays
        key_starts, text_starts = [], []
        k = t = 0
        for text, seg_keys in zip(texts, keys.split(_SEP), strict=True):
            key_starts.append(k)
            text_starts.append(t)
            k += len(seg_keys) + 1
            t += len(text) + 1
        return cls(tuple(texts), keys, tuple(key_starts), joined, tuple(text_starts))

    def segment_keys(self, segment: int) -> tuple[int, int]:
        starts = self.key_starts
        end = starts[segment + 1] - 1 if segment + 1 < len(starts) else len(self.keys)
        return starts[segment], end

    def keys_of(self, segment: int) -> str:
        start, end = self.segment_keys(segment)
        return self.keys[start:end]

    def text_offsets(self, segment: int, kstart: int, kend: int) -> tuple[int, int]:
        """Key offsets within a segment -> offsets in its normalized text."""
        text = self.texts[segment]
        seg_len = self.segment_keys(segment)
        if seg_len[1] - seg_len[0] == len(text):
            return kstart, kend
        kept = [i for i, c in enumerate(text) if c not in _SKIP]
        return kept[kstart], kept[kend - 1] + 1


@dataclass(frozen=True, slots=True)
class _Pattern:
    spec: PhraseSpec
    keys: str
    edits: int
    protected: frozenset[int]  # positions that must be heard
    ends_free: bool
    subs_free: bool

    @property
    def must(self) -> str:
        """Keys that every match contains: protected positions, and the ends unless free."""
        last = len(self.keys) - 1
        return "".join(
            c
            for i, c in enumerate(self.keys)
            if i in self.protected or (not self.ends_free and i in (0, last))
        )

    @property
    def min_bigrams(self) -> int:
        """Intact key pairs a match keeps at least: each edit breaks at most two."""
        return max(1, len(self.keys) - 1 - 2 * self.edits)


class PhraseSet:
    """Every phrase of a pack, compiled once; `find` returns all their spans in a Doc."""

    def __init__(
        self,
        specs: Sequence[PhraseSpec],
        sound: SoundKeys,
        tol: Tolerance,
        *,
        presence: bool = False,
    ) -> None:
        """`presence`: only whether each group was heard matters, so `find` stops looking
        for a group's phrases once one is found (greeting and closing checks)."""
        self._sound = sound
        self._presence = presence
        self._exact: list[tuple[PhraseSpec, str]] = []
        self._single: list[tuple[PhraseSpec, str]] = []  # one character, matched by sound
        self._fuzzy: list[_Pattern] = []
        self._unless: dict[str, list[tuple[str, str | None]]] = {}
        for spec in specs:
            if spec.unless:
                own = sound.keys(_chars(spec.text))
                self._unless[spec.text] = [
                    (w, None if sound.keys(w) == own else sound.keys(w))
                    for w in map(_chars, spec.unless)
                ]  # by sound, unless it sounds like the phrase itself (去世/去死): by text
        bigrams: dict[str, list[tuple[int, int]]] = {}
        for spec in specs:
            chars = _chars(spec.text)
            if not chars:
                continue
            if spec.exact:
                self._exact.append((spec, chars))
                continue
            keys = sound.keys(chars)
            m = len(keys)
            if m == 1:
                self._single.append((spec, keys))
                continue
            protect = m < tol.protect_below_len
            prot = frozenset(i for i, c in enumerate(chars) if protect and c in tol.protected)
            pid = len(self._fuzzy)
            self._fuzzy.append(
                _Pattern(
                    spec,
                    keys,
                    tol.edits(m, spec.extra_edits, spec.edits_by_len),
                    prot,
                    m >= tol.ends_min_len,
                    m >= tol.subs_min_len or spec.extra_edits > 0,
                )
            )
            for off in range(m - 1):
                bigrams.setdefault(keys[off : off + 2], []).append((pid, off))
        self._automaton = ahocorasick.Automaton()
        for bigram, entries in bigrams.items():
            self._automaton.add_word(bigram, tuple(entries))
        if bigrams:
            self._automaton.make_automaton()
        self._need = [p.min_bigrams for p in self._fuzzy]
        self._must = [p.must for p in self._fuzzy]

    def find(self, doc: Doc) -> list[Span]:
        spans = self._find_exact(doc)
        if self._fuzzy and doc.keys:
            spans.extend(self._find_fuzzy(doc, {s.group for s in spans}))
        if self._unless:
            spans = [s for s in spans if not self._excluded(s, doc)]
        return _dedupe(spans)

    def _excluded(self, span: Span, doc: Doc) -> bool:
        words = self._unless.get(span.phrase)
        if not words:
            return False
        text = doc.texts[span.segment]
        around = text[max(0, span.start - 3) : span.end + 3]
        keys = self._sound.keys(around)
        return any(w in around or (k is not None and k in keys) for w, k in words)

    def _find_exact(self, doc: Doc) -> list[Span]:
        spans = []
        for spec, key in self._single:
            pos = doc.keys.find(key)
            while pos >= 0:
                seg = bisect_right(doc.key_starts, pos) - 1
                local = pos - doc.key_starts[seg]
                ts, te = doc.text_offsets(seg, local, local + 1)
                text = doc.texts[seg][ts:te]
                spans.append(Span(spec.group, spec.text, seg, ts, te, text, 0))
                pos = doc.keys.find(key, pos + 1)
        for spec, chars in self._exact:
            pos = doc.joined.find(chars)
            while pos >= 0:
                seg = bisect_right(doc.text_starts, pos) - 1
                start = pos - doc.text_starts[seg]
                spans.append(Span(spec.group, spec.text, seg, start, start + len(chars), chars, 0))
                pos = doc.joined.find(chars, pos + 1)
        return spans

    def _find_fuzzy(self, doc: Doc, heard: set[str]) -> list[Span]:
        counts: dict[tuple[int, int], int] = {}
        where: dict[tuple[int, int], int] = {}  # a key offset of a bigram seen on the diagonal
        for end, entries in self._automaton.iter(doc.keys):
            start = end - 1
            for pid, off in entries:
                key = (pid, start - off)
                if key in counts:
                    counts[key] += 1
                else:
                    counts[key] = 1
                    where[key] = start
        candidates: dict[int, list[tuple[int, int]]] = {}
        for (pid, diag), count in counts.items():
            k, need = self._fuzzy[pid].edits, self._need[pid]
            if count < need and (
                k == 0 or sum(counts.get((pid, d), 0) for d in range(diag - k, diag + k + 1)) < need
            ):
                continue
            candidates.setdefault(pid, []).append((diag, where[pid, diag]))
        spans = []
        for pid, diags in sorted(candidates.items()):
            group = self._fuzzy[pid].spec.group
            if self._presence and group in heard:
                continue
            found = self._verify(doc, pid, sorted(diags))
            if found:
                heard.add(group)
                spans.extend(found)
        return spans

    def _verify(self, doc: Doc, pid: int, diags: list[tuple[int, int]]) -> list[Span]:
        pattern, must = self._fuzzy[pid], self._must[pid]
        keys, k = pattern.keys, pattern.edits
        m = len(keys)
        clusters: list[list[int]] = []  # [first diag, last diag, a key offset inside]
        for d, pos in diags:
            if clusters and d - clusters[-1][1] <= k:
                clusters[-1][1] = d
            else:
                clusters.append([d, d, pos])
        spans = []
        for lo, hi, pos in clusters:
            seg = bisect_right(doc.key_starts, pos) - 1
            seg_start, seg_end = doc.segment_keys(seg)
            found: tuple[int, int, int] | None = None
            for d in range(lo, hi + 1):
                if d >= seg_start and doc.keys.startswith(keys, d):
                    found = (0, d, d + m)
                    break
            if found is None and k > 0:
                w0, w1 = max(seg_start, lo - k), min(seg_end, hi + m + k)
                window = doc.keys[w0:w1]
                # cheap bounds before the DP: enough of the keys heard, the must-keys all
                heard = sum(1 for c in keys if c in window)
                if heard < m - k or any(c not in window for c in must):
                    continue
                aligned = self._align(pattern, window)
                if aligned is not None:
                    found = (aligned[0], w0 + aligned[1], w0 + aligned[2])
            if found is None:
                continue
            edits, ks, ke = found
            ts, te = doc.text_offsets(seg, ks - seg_start, ke - seg_start)
            text = doc.texts[seg][ts:te]
            spans.append(Span(pattern.spec.group, pattern.spec.text, seg, ts, te, text, edits))
        return spans

    def _align(self, pattern: _Pattern, t: str) -> tuple[int, int, int] | None:
        """Best place of the pattern in text keys `t` with at most its edits: (edits, start,
        end), or None. Protected positions (and the first/last one unless the pattern's ends
        are free) must be heard."""
        p, k, near = pattern.keys, pattern.edits, self._sound.near
        prot = pattern.protected
        m, n = len(p), len(t)
        inf = k + 1
        prev = [0] * (n + 1)  # row 0: the match may start anywhere
        prev_s = list(range(n + 1))
        for i in range(1, m + 1):
            pc = p[i - 1]
            locked = (i - 1) in prot or (not pattern.ends_free and (i == 1 or i == m))
            cur = [inf] * (n + 1)
            cur_s = [0] * (n + 1)
            if not locked:
                cur[0] = min(inf, prev[0] + 1)
            for j in range(1, n + 1):
                tc = t[j - 1]
                if tc == pc:
                    best, s = prev[j - 1], prev_s[j - 1]
                elif locked or not (pattern.subs_free or near(pc, tc)):
                    best, s = inf, 0
                else:
                    best, s = prev[j - 1] + 1, prev_s[j - 1]
                if not locked and prev[j] + 1 < best:
                    best, s = prev[j] + 1, prev_s[j]
                if cur[j - 1] + 1 < best:
                    best, s = cur[j - 1] + 1, cur_s[j - 1]
                cur[j] = best if best < inf else inf
                cur_s[j] = s
            prev, prev_s = cur, cur_s
        best_j = -1
        for j in range(1, n + 1):
            if prev[j] <= k and (
                best_j < 0
                or prev[j] < prev[best_j]
                or (prev[j] == prev[best_j] and j - prev_s[j] < best_j - prev_s[best_j])
            ):
                best_j = j
        if best_j < 0:
            return None
        return prev[best_j], prev_s[best_j], best_j


def _chars(text: str) -> str:
    """A phrase as it is compared: normalized, no spaces or punctuation."""
    return normalize(text).translate(_SKIP_TABLE)


def _dedupe(spans: list[Span]) -> list[Span]:
    """One span per place and group: of overlapping spans keep the closest, then longest."""
    spans.sort(key=lambda s: (s.group, s.segment, s.edits, -(s.end - s.start), s.start))
    kept: list[Span] = []
    taken: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for s in spans:
        places = taken.setdefault((s.group, s.segment), [])
        if any(s.start < e and b < s.end for b, e in places):
            continue
        places.append((s.start, s.end))
        kept.append(s)
    kept.sort(key=lambda s: (s.segment, s.start, s.group))
    return kept


@lru_cache(maxsize=1024)
def _number_pattern(number: str) -> re.Pattern[str]:
    """The number as heard: exactly, or (from four digits) with one digit garbled into a
    non-digit sound, or dropped where no further digit follows. A digit heard as another
    digit is a different number, never a match."""
    variants = [re.escape(number)]
    if len(number) >= 4:
        for i in range(len(number)):
            head, tail = re.escape(number[:i]), re.escape(number[i + 1 :])
            variants.append(f"{head}[^0-9\\n]{tail}")
            variants.append(f"{head}{tail}(?![0-9])")
    return re.compile("|".join(variants))


def number_heard(number: str, digits: str) -> bool:
    """Whether the agent's number was said, in a `SoundKeys.digits` string."""
    return _number_pattern(number).search(digits) is not None


def digit_runs(digits: str) -> list[str]:
    """Runs of three or more spoken digits in a `SoundKeys.digits` string."""
    return re.findall(r"[0-9]{3,}", digits)
