"""Sound keys and fuzzy phrase search over ASR text. Rule: a phrase is found where the sound
keys of its characters line up with the heard text with at most the pack's number of edits;
spaces, punctuation, traditional/simplified and (near-)homophones never count as edits.

Every character maps to one sound key: its first pypinyin reading without tone, folded the
pack's way (zh→z, n→l, ing→in, ...), as one private-use code point, cached per character. A
line of text then becomes a string of keys, so search runs on str in C: an Aho-Corasick pass
finds the phrases' key bigrams, a count of them on one diagonal (the q-gram lemma) picks the
few places worth checking, and a small edit-distance alignment checks only those (after a
bound from which of the phrase's keys, or near sounds of them, the place holds at all). Spans
are character offsets in the segment's normalized text (`Utterance.normalized`).

A phrase may have a looser review tier (more edits, any character misheard, negations and one
needed character heard): places only it finds are review spans, for a person to decide.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
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
        self._near_keys: dict[str, tuple[int, frozenset[str]]] = {}
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

    def near_keys(self, key: str) -> frozenset[str]:
        """Every key known so far that sounds near `key` (not itself): a table per key,
        redone only when new syllables have been met since."""
        known = len(self._parts)
        cached = self._near_keys.get(key)
        if cached is None or cached[0] != known:
            pa = self._parts.get(key)
            near = frozenset(
                k
                for k, pb in self._parts.items()
                if pa is not None
                and k != key
                and ((pa[0] == pb[0] and pa[0] != "") or pa[1] == pb[1])
            )
            cached = self._near_keys[key] = (known, near)
        return cached[1]

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
    """How far a heard phrase may stray from the written one (from the pack).

    Edits are graded: a character heard with another key costs 1, or `near_cost` for a near
    sound (same initial or same final); a dropped character costs 1, an extra one 1 (a light
    one `light_cost`); a light phrase character (a particle such as 么 吗 也) costs
    `light_cost` times as much, and may be misheard as anything even in a short phrase. A
    phrase matches where its edits add up to at most its allowance."""

    edits_by_len: tuple[tuple[int, float], ...]  # (phrase length from, edits allowed), ascending
    ends_min_len: int  # phrases this long may lose or change their first/last character
    subs_min_len: int  # phrases this long may have any character misheard; shorter ones only
    # for a near sound (same initial or same final), e.g. 帮 heard as 办 but not as 是
    protected: str  # characters that must be heard (negations): never dropped, and replaced
    protect_below_len: int  # only by another negation in phrases shorter than this
    near_cost: float = 1.0  # a character heard as a near sound (帮 as 办)
    light: str = ""  # particles and fillers: cheap to mishear, drop or insert
    light_cost: float = 1.0  # ... this much of an edit
    light_min_heavy: int = 3  # ... in phrases with at least this many other characters
    near_ends_min_len: int = 4  # phrases this long may have a near sound at a kept end

    def edits(
        self, length: int, extra: int = 0, table: tuple[tuple[int, float], ...] | None = None
    ) -> float:
        allowed: float = extra
        for min_len, edits in table or self.edits_by_len:
            if length >= min_len:
                allowed = edits + extra
        # a match keeps at least one intact key pair (the bigram prefilter finds it)
        return max(0.0, min(allowed, length - 2))


@dataclass(frozen=True, slots=True)
class PhraseSpec:
    group: str  # what the phrase stands for, e.g. "forbidden_phrase"
    text: str
    exact: bool = False  # match these characters only, no sound tolerance
    unless: tuple[str, ...] = ()  # heard text containing one of these is not this phrase
    extra_edits: int = 0  # edits allowed beyond the pack's default for its length
    edits_by_len: tuple[tuple[int, float], ...] | None = None  # the rule's own table, if any
    # the review tier: places that miss the tolerance above but pass this looser one are
    # found as review spans (a person decides). Off unless review_extra or review_subs.
    review_extra: int = 0  # edits allowed beyond the phrase's own
    review_subs: bool = False  # any character may be misheard (not only as a near sound)
    review_needs: str = ""  # a review span must hear one of these characters (by sound, in
    # its place); in the review tier every negation must be heard, whatever the length
    review_only: bool = False  # found only by the review tier (never a strict span)
    ambiguous: bool = False  # has innocent uses too: the scorer puts every hit up for review
    protect_below_len: int = 0  # the rule's own Tolerance.protect_below_len (0: the pack's)

    @property
    def reviewable(self) -> bool:
        return not self.exact and (self.review_extra > 0 or self.review_subs)


@dataclass(frozen=True, slots=True)
class Span:
    group: str
    phrase: str  # the phrase as written in the pack
    segment: int  # index of the segment (utterance) in the Doc
    start: int  # offsets in the segment's normalized text
    end: int
    text: str  # what was heard there
    edits: float
    review: bool = False  # found only by the phrase's looser review tier: a person decides


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
        parts = keys.split(_SEP) if texts else []  # no segment: no keys, not one empty one
        for text, seg_keys in zip(texts, parts, strict=True):
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
    edits: float
    protected: frozenset[int]  # positions that must be heard (or another negation there)
    ends_free: bool
    subs_free: bool
    weights: tuple[float, ...]  # cost of dropping or mishearing each position (light ones less)
    heard_at: int = -1  # a position that must be heard as itself (a review tier's needs)

    @property
    def min_bigrams(self) -> int:
        """Intact key pairs looked for before aligning: each whole edit breaks at most two
        (a match made of more, cheaper edits is found when it keeps as many pairs)."""
        return max(1, len(self.keys) - 1 - 2 * int(self.edits + 1e-9))


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
        self._near_cost = tol.near_cost
        self._near_ends_min_len = tol.near_ends_min_len
        self._light_cost = tol.light_cost
        self._light_keys = frozenset(sound.keys(_chars(tol.light)))
        self._negation_keys = frozenset(sound.keys(_chars(tol.protected)))
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
        pairs: dict[str, list[tuple[int, int]]] = {}  # review tier: keys one or two apart
        # pid -> its looser review patterns: one per character it needs heard (any one will do)
        self._review: dict[int, list[_Pattern]] = {}
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
            protect = m < (spec.protect_below_len or tol.protect_below_len)
            prot = frozenset(i for i, c in enumerate(chars) if protect and c in tol.protected)
            light = [c in tol.light and c not in tol.protected for c in chars]
            if m - sum(light) < tol.light_min_heavy:
                light = [False] * m  # too few other characters to carry the phrase
            weights = tuple(tol.light_cost if x else 1.0 for x in light)
            pid = len(self._fuzzy)
            pattern = _Pattern(
                spec,
                keys,
                tol.edits(m, spec.extra_edits, spec.edits_by_len),
                prot,
                m >= tol.ends_min_len,
                m >= tol.subs_min_len or spec.extra_edits > 0,
                weights,
            )
            self._fuzzy.append(pattern)
            for off in range(m - 1 if not (spec.review_only and spec.reviewable) else 0):
                bigrams.setdefault(keys[off : off + 2], []).append((pid, off))
            if spec.reviewable:
                loose = tol.edits(m, spec.extra_edits + spec.review_extra, spec.edits_by_len)
                if loose > pattern.edits or (spec.review_subs and not pattern.subs_free):
                    review = replace(
                        pattern,
                        edits=loose,
                        protected=frozenset(i for i, c in enumerate(chars) if c in tol.protected),
                        subs_free=pattern.subs_free or spec.review_subs,
                    )
                    needs = [i for i, c in enumerate(chars) if c in spec.review_needs]
                    self._review[pid] = [replace(review, heard_at=i) for i in needs] or [review]
                    for off in range(m - 1):
                        for gap in (1, 2)[: m - 1 - off]:
                            pair = keys[off] + keys[off + gap]
                            pairs.setdefault(pair, []).append((pid, off))
        self._automaton = ahocorasick.Automaton()
        for bigram, entries in bigrams.items():
            self._automaton.add_word(bigram, tuple(entries))
        if bigrams:
            self._automaton.make_automaton()
        self._need = [p.min_bigrams for p in self._fuzzy]
        # how far (in keys) a match may shift from its diagonal: one per drop or insertion
        self._span = [self._shift(p, tol) for p in self._fuzzy]
        self._pairs = ahocorasick.Automaton()
        for pair, entries in pairs.items():
            self._pairs.add_word(pair, tuple(entries))
        if pairs:
            self._pairs.make_automaton()
        self._review_span = {pid: self._shift(p[0], tol) for pid, p in self._review.items()}

    def _shift(self, p: _Pattern, tol: Tolerance) -> int:
        if not p.edits:
            return 0
        return int(
            p.edits / min(1.0, min(p.weights), self._light_cost if tol.light else 1.0) + 1e-9
        )

    def find(self, doc: Doc) -> list[Span]:
        spans = self._find_exact(doc)
        if self._fuzzy and doc.keys:
            heard = {s.group for s in spans}
            if self._automaton.kind == ahocorasick.AHOCORASICK:
                spans.extend(self._find_fuzzy(doc, heard))
            if self._review:
                spans.extend(self._find_review(doc, heard))
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
            k, need = self._span[pid], self._need[pid]
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

    def _find_review(self, doc: Doc, heard: set[str]) -> list[Span]:
        """The review tier: two of a phrase's keys (one or two apart) heard one or two
        apart mark a place; one that passes the looser tolerance but not the strict one is
        a review span. (The strict search also needs intact key pairs: a place it missed is
        a review span even within the strict tolerance.) Spans the strict search found at
        the same place win (`_dedupe`)."""
        keys = doc.keys
        where: dict[tuple[int, int], int] = {}  # (pid, diagonal) -> a key offset on it
        for step, phase, stream in ((1, 0, keys), (2, 0, keys[0::2]), (2, 1, keys[1::2])):
            for end, entries in self._pairs.iter(stream):
                start = (end - 1) * step + phase
                for pid, off in entries:
                    where.setdefault((pid, start - off), start)
        spans: list[Span] = []
        by_pid: dict[int, list[tuple[int, int]]] = {}
        for (pid, diag), pos in where.items():
            by_pid.setdefault(pid, []).append((diag, pos))
        for pid, diags in sorted(by_pid.items()):
            if self._presence and self._fuzzy[pid].spec.group in heard:
                continue
            spans.extend(self._verify_review(doc, pid, sorted(diags)))
        return spans

    def _verify_review(self, doc: Doc, pid: int, diags: list[tuple[int, int]]) -> list[Span]:
        strict, looser = self._fuzzy[pid], self._review[pid]
        loose = looser[0]
        k, m = self._review_span[pid], len(loose.keys)
        spans = []
        for lo, hi, pos in _clusters(diags, k):
            seg = bisect_right(doc.key_starts, pos) - 1
            seg_start, seg_end = doc.segment_keys(seg)
            w0, w1 = max(seg_start, lo - k), min(seg_end, hi + m + k)
            window = doc.keys[w0:w1]
            aligned = None
            for pattern in looser:
                if pattern.heard_at < 0 or pattern.keys[pattern.heard_at] in window:
                    aligned = self._check(pattern, window)
                    if aligned is not None:
                        break
            if aligned is None:
                continue
            edits, ks, ke = aligned
            ts, te = doc.text_offsets(seg, w0 + ks - seg_start, w0 + ke - seg_start)
            text = doc.texts[seg][ts:te]
            spans.append(Span(strict.spec.group, strict.spec.text, seg, ts, te, text, edits, True))
        return spans

    def _verify(self, doc: Doc, pid: int, diags: list[tuple[int, int]]) -> list[Span]:
        pattern = self._fuzzy[pid]
        keys, k = pattern.keys, self._span[pid]
        m = len(keys)
        spans = []
        for lo, hi, pos in _clusters(diags, k):
            seg = bisect_right(doc.key_starts, pos) - 1
            seg_start, seg_end = doc.segment_keys(seg)
            found: tuple[float, int, int] | None = None
            for d in range(lo, hi + 1):
                if d >= seg_start and doc.keys.startswith(keys, d):
                    found = (0.0, d, d + m)
                    break
            if found is None and k > 0:
                w0, w1 = max(seg_start, lo - k), min(seg_end, hi + m + k)
                aligned = self._check(pattern, doc.keys[w0:w1])
                if aligned is not None:
                    found = (aligned[0], w0 + aligned[1], w0 + aligned[2])
            if found is None:
                continue
            edits, ks, ke = found
            ts, te = doc.text_offsets(seg, ks - seg_start, ke - seg_start)
            text = doc.texts[seg][ts:te]
            spans.append(Span(pattern.spec.group, pattern.spec.text, seg, ts, te, text, edits))
        return spans

    def _check(self, pattern: _Pattern, window: str) -> tuple[float, int, int] | None:
        """The pattern's best place in `window` (see `_align`), after a cheap bound: each
        of its keys costs at least nothing if heard in the window, a near sound if one is,
        else a drop (or, if it must be heard, it cannot match)."""
        heard = set(window)
        budget, weights, near_cost = pattern.edits + 1e-9, pattern.weights, self._near_cost
        missing = [i for i, pc in enumerate(pattern.keys) if pc not in heard]
        if sum(weights[i] for i in missing) * near_cost > budget:
            return None  # even if each were heard as a near sound
        close = self._close(pattern.keys, heard)
        negation_heard = not heard.isdisjoint(self._negation_keys)
        m, bound = len(pattern.keys), 0.0
        for i in missing:
            pc = pattern.keys[i]
            if i == pattern.heard_at:
                return None
            if i in pattern.protected:
                if not negation_heard:
                    return None
                bound += near_cost
            elif not pattern.ends_free and (i == 0 or i == m - 1):
                if not (close[i] and m >= self._near_ends_min_len):
                    return None
                bound += near_cost
            elif close[i] or (negation_heard and pc in self._negation_keys):
                bound += near_cost * weights[i]
            else:
                bound += weights[i]
            if bound > budget:
                return None
        return self._align(pattern, window, close)

    def _close(self, keys: str, heard: set[str]) -> list[frozenset[str]]:
        """For each key of a pattern, the keys of `heard` that sound near it (not itself)."""
        near_keys = self._sound.near_keys
        return [near_keys(pc) & heard for pc in keys]

    def _align(
        self, pattern: _Pattern, t: str, close: list[frozenset[str]] | None = None
    ) -> tuple[float, int, int] | None:
        """Best place of the pattern in text keys `t` within its edits: (edits, start, end),
        or None. Protected positions (and the first/last one unless the pattern's ends are
        free) must be heard: a protected one as itself or another negation (没 as 不), an end
        as itself or (from `near_ends_min_len` characters) a near sound (脑 as 妮)."""
        p, budget = pattern.keys, pattern.edits + 1e-9
        if close is None:
            close = self._close(p, set(t))
        prot, weights, subs_free = pattern.protected, pattern.weights, pattern.subs_free
        near_cost, light_keys, negations = self._near_cost, self._light_keys, self._negation_keys
        ins = [self._light_cost if c in light_keys else 1.0 for c in t]
        m, n = len(p), len(t)
        near_ends = m >= self._near_ends_min_len
        inf = float("inf")
        prev = [0.0] * (n + 1)  # row 0: the match may start anywhere
        prev_s = list(range(n + 1))
        for i in range(1, m + 1):
            pc, w = p[i - 1], weights[i - 1]
            is_prot = (i - 1) in prot
            heard = i - 1 == pattern.heard_at
            locked = is_prot or heard or (not pattern.ends_free and (i == 1 or i == m))
            light = w < 1.0
            near = close[i - 1]
            cur = [inf] * (n + 1)
            cur_s = [0] * (n + 1)
            if not locked:
                cur[0] = prev[0] + w
            for j in range(1, n + 1):
                tc = t[j - 1]
                if tc == pc:
                    best, s = prev[j - 1], prev_s[j - 1]
                elif locked:
                    if heard:
                        best, s = inf, 0
                    elif (tc in negations) if is_prot else (near_ends and tc in near):
                        best, s = prev[j - 1] + near_cost, prev_s[j - 1]
                    else:
                        best, s = inf, 0
                elif tc in near or (pc in negations and tc in negations):
                    best, s = prev[j - 1] + near_cost * w, prev_s[j - 1]
                elif subs_free or light:
                    best, s = prev[j - 1] + w, prev_s[j - 1]
                else:
                    best, s = inf, 0
                if not locked and prev[j] + w < best:
                    best, s = prev[j] + w, prev_s[j]
                if cur[j - 1] + ins[j - 1] < best:
                    best, s = cur[j - 1] + ins[j - 1], cur_s[j - 1]
                cur[j] = best
                cur_s[j] = s
            prev, prev_s = cur, cur_s
        best_j = -1
        for j in range(1, n + 1):
            if prev[j] <= budget and (
                best_j < 0
                or prev[j] < prev[best_j]
                or (prev[j] == prev[best_j] and j - prev_s[j] < best_j - prev_s[best_j])
            ):
                best_j = j
        if best_j < 0:
            return None
        return round(prev[best_j], 3), prev_s[best_j], best_j


def phrase_length(text: str) -> int:
    """How many characters of a phrase count (spaces and punctuation do not)."""
    return len(_chars(text))


def _chars(text: str) -> str:
    """A phrase as it is compared: normalized, no spaces or punctuation."""
    return normalize(text).translate(_SKIP_TABLE)


def _clusters(diags: list[tuple[int, int]], k: int) -> list[tuple[int, int, int]]:
    """Sorted (diagonal, key offset) pairs grouped where diagonals lie within `k` of each
    other: (first diagonal, last diagonal, a key offset inside)."""
    clusters: list[list[int]] = []
    for d, pos in diags:
        if clusters and d - clusters[-1][1] <= k:
            clusters[-1][1] = d
        else:
            clusters.append([d, d, pos])
    return [(lo, hi, pos) for lo, hi, pos in clusters]


def _dedupe(spans: list[Span]) -> list[Span]:
    """One span per place and group: of overlapping spans keep the closest, then longest."""
    spans.sort(key=lambda s: (s.group, s.segment, s.review, s.edits, -(s.end - s.start), s.start))
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
