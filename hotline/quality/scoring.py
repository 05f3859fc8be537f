"""Scoring of one call against a rule pack. Rule: pure — the same call and pack always give
the same Score; every hit carries its evidence, its time and the ASR confidence behind it,
and a hit whose evidence is unsure (low confidence, a mixed recording, an ambiguous 「你」)
needs review and deducts nothing.

Score = max(0, 100 − deductions), rounded to 0.1; 0 and the lowest band on an instant fail.
The ring limit is the deployment's (`RingRule`, from the settings), passed in, never the pack's.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from hotline.asr.transcript import Utterance, normalize
from hotline.quality.match import Doc, Span, digit_runs, number_heard
from hotline.quality.model import AGENT, CallInput, Hit, Score
from hotline.quality.pack import (
    AnswerLate,
    ClosingMissing,
    GreetingAgentNumber,
    GreetingMissing,
    Interruption,
    Pack,
    PhraseRule,
    Politeness,
    SilenceLong,
    lookalike_group,
    script_group,
    script_parts,
    word_group,
)
from hotline.telephony.model import RingRule

CALL = "call"
NO_OPENING = "（开场无应答）"
NO_CLOSING = "（结束无应答）"


def score_json(data: object, pack: Pack, *, ring: RingRule) -> dict[str, Any]:
    """The scoring command: CallInput JSON in, Score JSON out."""
    return score_call(CallInput.from_dict(data), pack, ring=ring).to_dict()


def score_call(call: CallInput, pack: Pack, *, ring: RingRule) -> Score:
    """One call scored against `pack`; `ring` is the deployment's ring limit (answer_late)."""
    ctx = _Context(call, pack)
    rules = pack.rules
    hits: list[Hit] = []
    if rules.greeting_missing and rules.greeting_missing.enabled:
        hits += _greeting(ctx, rules.greeting_missing)
    if rules.greeting_agent_number and rules.greeting_agent_number.enabled:
        hits += _agent_number(ctx, rules.greeting_agent_number)
    if rules.closing_missing and rules.closing_missing.enabled:
        hits += _closing(ctx, rules.closing_missing)
    for rule_id in ("forbidden_phrase", "abusive_language"):
        rule = getattr(rules, rule_id)
        if rule is not None and rule.enabled:
            hits += _phrases(ctx, rule_id, rule)
    if rules.politeness and rules.politeness.enabled:
        hits += _politeness(ctx, rules.politeness)
    hits += _rate(ctx)
    if rules.interruption and rules.interruption.enabled:
        hits += _interruptions(ctx, rules.interruption)
    if rules.silence_long and rules.silence_long.enabled:
        hits += _silence(ctx, rules.silence_long)
    if rules.answer_late and rules.answer_late.enabled:
        hits += _answer_late(ctx, rules.answer_late, ring)
    hits.sort(key=lambda h: (h.start, h.end, h.rule))
    instant = any(
        not h.needs_review and getattr(rules, h.rule).instant_fail for h in hits if h.rule
    )
    score = 0.0 if instant else round(max(0.0, 100.0 - sum(h.deduction for h in hits)), 1)
    band = pack.lowest_band if instant else pack.band(score)
    return Score(call.call_id, score, band, tuple(hits), instant, pack.label)


class _Context:
    """One call prepared once: the agent side as a Doc and every phrase span in it."""

    def __init__(self, call: CallInput, pack: Pack) -> None:
        self.call = call
        self.pack = pack
        self.agent = agent = call.agent
        rules = pack.rules
        greeting = rules.greeting_missing
        closing = rules.closing_missing
        number = rules.greeting_agent_number
        opening_s = max(
            greeting.window_s if greeting and greeting.enabled else 0.0,
            number.window_s if number and number.enabled else 0.0,
        )
        last = max((u.end for u in agent), default=0.0)
        closing_s = closing.window_s if closing and closing.enabled else 0.0
        self.opening = self.after_pickup(opening_s)
        self.closing = [i for i, u in enumerate(agent) if closing_s and u.end >= last - closing_s]
        self.doc = Doc.of([u.normalized for u in agent], pack.sound)
        self.spans: dict[str, list[Span]] = defaultdict(list)
        for span in pack.anywhere.find(self.doc):
            self.spans[span.group].append(span)
        for phrases, window in ((pack.opening, self.opening), (pack.closing, self.closing)):
            if window:
                doc = Doc.of([agent[i].normalized for i in window], pack.sound)
                self._add(phrases.find(doc), window)
        self._agent_conf: float | None = None

    def after_pickup(self, window_s: float) -> list[int]:
        """The agent's utterances heard within `window_s` of pickup."""
        answered = self.call.answered_s
        return [
            i
            for i, u in enumerate(self.agent)
            if u.end > answered and u.start < answered + window_s
        ]

    def opening_extent(self, utts: Sequence[Utterance], window_s: float) -> tuple[float, float]:
        """Where an opening hit sits: its utterances, or the whole window when none."""
        if utts:
            return utts[0].start, utts[-1].end
        return self.call.answered_s, self.call.answered_s + window_s

    def _add(self, spans: list[Span], segments: Sequence[int]) -> None:
        """Spans found in a window's Doc, renumbered to the agent's utterances."""
        for span in spans:
            self.spans[span.group].append(replace(span, segment=segments[span.segment]))

    @property
    def agent_conf(self) -> float:
        if self._agent_conf is None:
            self._agent_conf = _mean_conf(self.agent)
        return self._agent_conf

    def found(self, group: str, segments: Iterable[int] | None = None) -> list[Span]:
        spans = self.spans.get(group, [])
        if segments is None:
            return spans
        wanted = set(segments)
        return [s for s in spans if s.segment in wanted]

    def hit(
        self,
        rule_id: str,
        deduct: float,
        channel: str,
        start: float,
        end: float,
        evidence: str,
        conf: float,
        *,
        ambiguous: bool = False,
    ) -> Hit:
        review = (
            ambiguous
            or conf < self.pack.config.review_below_conf
            or (self.call.mixed and channel == AGENT)
        )
        return Hit(rule_id, channel, start, end, evidence, conf, 0.0 if review else deduct, review)

    def span_hit(self, rule_id: str, deduct: float, span: Span) -> Hit:
        start, end, conf = _timing(self.agent[span.segment], span.start, span.end)
        if span.review:  # heard only within the rule's looser review tier: a person decides
            evidence = f"{span.text}（疑似「{span.phrase}」，待复核）"
            return self.hit(rule_id, deduct, AGENT, start, end, evidence, conf, ambiguous=True)
        if (span.group, span.phrase) in self.pack.ambiguous:  # also said innocently
            evidence = f"{span.text}（「{span.phrase}」也可能是正常说法，待复核）"
            return self.hit(rule_id, deduct, AGENT, start, end, evidence, conf, ambiguous=True)
        return self.hit(rule_id, deduct, AGENT, start, end, span.text, conf)

    def cut_at_end(self, word: str) -> bool:
        """The word is one the pack lets be cut short (`matching.cut_words_at_end`) and its
        beginning (at least half of it) closes the agent's last utterance: the recogniser
        cut the channel's last word (再见 heard as 再)."""
        if word not in self.pack.config.matching.cut_words_at_end or not self.agent:
            return False
        word_keys = self.pack.sound.keys(normalize(word))
        last = self.doc.keys_of(len(self.agent) - 1)
        return any(
            last.endswith(word_keys[:k]) for k in range((len(word_keys) + 1) // 2, len(word_keys))
        )


# --- rules ------------------------------------------------------------------------------------


def _greeting(ctx: _Context, rule: GreetingMissing) -> list[Hit]:
    window = ctx.after_pickup(rule.window_s)
    groups = ("greeting_missing.salutations", "organisation", "greeting_missing.help_offers")
    parts_heard = sum(bool(ctx.found(group, window)) for group in groups)
    if parts_heard >= rule.min_parts:
        return []
    if rule.scripts and window:  # the regulation's own wording, said whole
        doc = Doc.of([ctx.agent[i].normalized for i in window], ctx.pack.sound)
        heard = {span.group for span in ctx.pack.scripts.find(doc)}
        for i, script in enumerate(rule.scripts):
            if all(script_group(i, j) in heard for j in range(len(script_parts(script)))):
                return []
    utts = [ctx.agent[i] for i in window]
    evidence = " ".join(u.normalized for u in utts if u.normalized) or NO_OPENING
    start, end = ctx.opening_extent(utts, rule.window_s)
    return [ctx.hit("greeting_missing", rule.deduct, AGENT, start, end, evidence, _mean_conf(utts))]


def _agent_number(ctx: _Context, rule: GreetingAgentNumber) -> list[Hit]:
    number = "".join(c for c in ctx.call.agent_number or "" if c.isdigit())
    if not number:
        return []
    window = ctx.after_pickup(rule.window_s)
    keys = "\n".join(ctx.doc.keys_of(i) for i in window)
    digits = ctx.pack.sound.digits(keys)
    if number_heard(number, digits):
        return []
    runs = digit_runs(digits)
    evidence = f"未听到工号「{number}」" + (f"（听到「{'、'.join(runs)}」）" if runs else "")
    utts = [ctx.agent[i] for i in window]
    start, end = ctx.opening_extent(utts, rule.window_s)
    return [
        ctx.hit("greeting_agent_number", rule.deduct, AGENT, start, end, evidence, _mean_conf(utts))
    ]


def _closing(ctx: _Context, rule: ClosingMissing) -> list[Hit]:
    if not ctx.agent:
        end = _call_end(ctx.call)
        return [ctx.hit("closing_missing", rule.deduct, AGENT, end, end, NO_CLOSING, 1.0)]
    last = max(u.end for u in ctx.agent)
    window = [i for i, u in enumerate(ctx.agent) if u.end >= last - rule.window_s]
    if ctx.found("closing_missing.checks", window) or ctx.found("closing_missing.goodbyes", window):
        return []
    if rule.goodbyes and any(ctx.cut_at_end(g.text) for g in rule.goodbyes):
        return []
    utts = [ctx.agent[i] for i in window]
    evidence = " ".join(u.normalized for u in utts if u.normalized) or NO_CLOSING
    return [
        ctx.hit(
            "closing_missing",
            rule.deduct,
            AGENT,
            utts[0].start,
            utts[-1].end,
            evidence,
            _mean_conf(utts),
        )
    ]


def _phrases(ctx: _Context, rule_id: str, rule: PhraseRule) -> list[Hit]:
    return [ctx.span_hit(rule_id, rule.deduct, s) for s in ctx.found(f"{rule_id}.phrases")]


def _politeness(ctx: _Context, rule: Politeness) -> list[Hit]:
    """One hit per required word the agent never said."""
    start, end = _extent(ctx.agent)
    conf = ctx.agent_conf
    hits = []
    for i, word in enumerate(rule.words):
        if ctx.found(word_group(i)) or ctx.cut_at_end(word.word):
            continue
        lookalike = ctx.found(lookalike_group(i))
        if lookalike:
            # 「您」 is often heard as 「你」: a 「你」 in a polite phrase is for a person to judge
            evidence = (
                f"缺少「{word.word}」（听到「{lookalike[0].text}」，可能是「{word.word}」被识别错）"
            )
            hits.append(
                ctx.hit(
                    "politeness", rule.deduct, AGENT, start, end, evidence, conf, ambiguous=True
                )
            )
        else:
            hits.append(
                ctx.hit("politeness", rule.deduct, AGENT, start, end, f"缺少「{word.word}」", conf)
            )
    return hits


def _rate(ctx: _Context) -> list[Hit]:
    """Characters a minute of the agent's speaking time, outside the pack's band around the
    regulation's figure, once the agent has spoken `min_speech_s`."""
    rules, band = ctx.pack.rules, ctx.pack.config.speech_rate
    fast, slow = rules.speech_rate_fast, rules.speech_rate_slow
    if not (fast and fast.enabled) and not (slow and slow.enabled):
        return []
    speaking = sum(u.end - u.start for u in ctx.agent)
    if speaking < band.min_speech_s or speaking <= 0:
        return []
    chars = len(ctx.doc.keys) - max(0, len(ctx.agent) - 1)  # keys hold no spaces/punctuation
    rate = chars * 60.0 / speaking
    if fast and fast.enabled and rate > band.high:
        rule_id, deduct = "speech_rate_fast", fast.deduct
    elif slow and slow.enabled and rate < band.low:
        rule_id, deduct = "speech_rate_slow", slow.deduct
    else:
        return []
    start, end = _extent(ctx.agent)
    evidence = (
        f"语速 {rate:.0f} 字/分钟（标准 {band.target_per_min:.0f}±{band.band_per_min:.0f}；"
        f"{chars} 字，说话 {speaking:.1f} 秒）"
    )
    return [ctx.hit(rule_id, deduct, AGENT, start, end, evidence, ctx.agent_conf)]


def interruptions(
    agent: Sequence[Utterance], customer: Sequence[Utterance], tolerance_s: float
) -> list[tuple[float, float]]:
    """Where the agent cut in (抢话): an agent utterance whose first word starts inside a
    customer utterance already under way (the customer's first word began before it), and
    the customer's words sound for more than `tolerance_s` while the agent talks (a short
    嗯 / 好 over the customer, or a start in the customer's pause before the last words, is
    none). Each as (the agent's start, the end of the talking over)."""
    found = []
    talking = sorted((c.words[0].start, c.words[-1].end, c) for c in customer if c.words)
    for a in agent:
        if not a.words:
            continue
        t, a_end = a.words[0].start, a.words[-1].end
        for start, end, c in talking:  # in order of start: none after the agent's start counts
            if start >= t:
                break
            if end <= t:
                continue
            over = sum(
                max(0.0, min(w.end, a_end) - max(w.start, t))
                for w in c.words
                if w.end > t and w.start < a_end
            )
            if over > tolerance_s:
                found.append((t, min(a_end, end)))
                break
    return found


def _interruptions(ctx: _Context, rule: Interruption) -> list[Hit]:
    if ctx.call.mixed or not ctx.call.customer:
        return []  # one channel: who spoke when is not known
    found = interruptions(ctx.agent, ctx.call.customer, rule.tolerance_s)
    if len(found) <= rule.max_per_call:
        return []
    times = "、".join(f"{t:.1f}–{e:.1f} 秒" for t, e in found[:5])
    more = "等" if len(found) > 5 else ""
    evidence = (
        f"抢话 {len(found)} 次（允许 {rule.max_per_call} 次，客户仍在说话时坐席开口、同时说话超过 "
        f"{rule.tolerance_s:g} 秒）：{times}{more}"
    )
    start, end = found[0]
    return [ctx.hit("interruption", rule.deduct, AGENT, start, end, evidence, 1.0)]


def _silence(ctx: _Context, rule: SilenceLong) -> list[Hit]:
    spans: list[tuple[float, float]] = []
    expanded = False
    for utt in heapq.merge(ctx.call.agent, ctx.call.customer, key=lambda u: u.start):
        if not utt.words and not utt.normalized:
            continue
        if utt.end - utt.start > rule.max_s and utt.words:  # a long utterance: mind its pauses
            spans += [(w.start, w.end) for w in utt.words]
            expanded = True
        else:
            spans.append((utt.start, utt.end))
    if expanded:
        spans.sort()
    answered = ctx.call.answered_s  # before pickup the caller waits: not dead air
    spans = [(max(start, answered), end) for start, end in spans if end > answered]
    hits = []
    reach = spans[0][1] if spans else 0.0
    for start, end in spans[1:]:
        gap = start - reach
        if gap > rule.max_s:
            evidence = f"静默 {gap:.1f} 秒"
            hits.append(ctx.hit("silence_long", rule.deduct, CALL, reach, start, evidence, 1.0))
        reach = max(reach, end)
    return hits


def _answer_late(ctx: _Context, rule: AnswerLate, limit: RingRule) -> list[Hit]:
    ring = ctx.call.ring_seconds
    if ring is None or limit.within(ring):
        return []
    evidence = f"响铃 {limit.rings(ring)} 声 ({ring:.1f} 秒)"
    return [ctx.hit("answer_late", rule.deduct, CALL, 0.0, 0.0, evidence, 1.0)]


# --- helpers ----------------------------------------------------------------------------------


def _mean_conf(utts: Iterable[Utterance]) -> float:
    total, count = 0.0, 0
    for u in utts:
        for w in u.words:
            total += w.conf
        count += len(u.words)
    return total / count if count else 1.0


def _extent(utts: Sequence[Utterance]) -> tuple[float, float]:
    if not utts:
        return 0.0, 0.0
    return min(u.start for u in utts), max(u.end for u in utts)


def _call_end(call: CallInput) -> float:
    return max((u.end for u in (*call.agent, *call.customer)), default=0.0)


def _timing(utt: Utterance, start: int, end: int) -> tuple[float, float, float]:
    """Start, end and mean confidence of the words under normalized chars [start, end)."""
    words = utt.words
    if not words:
        return utt.start, utt.end, 1.0
    owner = _char_owner(utt)
    first = owner[min(start, len(owner) - 1)]
    last = owner[min(max(start, end - 1), len(owner) - 1)]
    covered = words[first : last + 1]
    return covered[0].start, covered[-1].end, sum(w.conf for w in covered) / len(covered)


def _char_owner(utt: Utterance) -> list[int]:
    """For each char of the normalized text, the index of the Vosk word it came from."""
    text, words = utt.normalized, utt.words
    lengths = [len("".join(w.word.split())) for w in words]
    solid = sum(1 for c in text if not c.isspace())
    if sum(lengths) != solid or not text:
        # the words do not spell the text (an edited transcript): spread them evenly
        return [min(len(words) - 1, i * len(words) // max(1, len(text))) for i in range(len(text))]
    flat = [i for i, n in enumerate(lengths) for _ in range(n)]
    owner, k = [], 0
    for c in text:
        if c.isspace():
            owner.append(flat[k - 1] if k else 0)
        else:
            owner.append(flat[k])
            k += 1
    return owner
