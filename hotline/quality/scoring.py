"""Scoring of one call against a rule pack. Rule: pure — the same call and pack always give
the same Score; every hit carries its evidence, its time and the ASR confidence behind it,
and a hit whose evidence is unsure (low confidence, a mixed recording, an ambiguous 「你」)
needs review and deducts nothing.

Score = max(0, 100 − deductions), rounded to 0.1; 0 and the lowest band on an instant fail.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from hotline.asr.transcript import Utterance
from hotline.quality.match import Doc, Span, digit_runs, number_heard
from hotline.quality.model import AGENT, CallInput, Hit, Score
from hotline.quality.pack import (
    AnswerLate,
    ClosingMissing,
    GreetingAgentNumber,
    GreetingMissing,
    Pack,
    PhraseRule,
    Politeness,
    SilenceLong,
    SpeechRateFast,
    SpeechRateSlow,
)

CALL = "call"
NO_OPENING = "（开场无应答）"
NO_CLOSING = "（结束无应答）"


def score_json(data: object, pack: Pack) -> dict[str, Any]:
    """The scoring command: CallInput JSON in, Score JSON out."""
    return score_call(CallInput.from_dict(data), pack).to_dict()


def score_call(call: CallInput, pack: Pack) -> Score:
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
    if rules.speech_rate_fast and rules.speech_rate_fast.enabled:
        hits += _rate(ctx, "speech_rate_fast", rules.speech_rate_fast)
    if rules.speech_rate_slow and rules.speech_rate_slow.enabled:
        hits += _rate(ctx, "speech_rate_slow", rules.speech_rate_slow)
    if rules.silence_long and rules.silence_long.enabled:
        hits += _silence(ctx, rules.silence_long)
    if rules.answer_late and rules.answer_late.enabled:
        hits += _answer_late(ctx, rules.answer_late)
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
        return self.hit(rule_id, deduct, AGENT, start, end, span.text, conf)


# --- rules ------------------------------------------------------------------------------------


def _greeting(ctx: _Context, rule: GreetingMissing) -> list[Hit]:
    window = ctx.after_pickup(rule.window_s)
    groups = ("greeting_missing.salutations", "organisation", "greeting_missing.help_offers")
    parts = sum(bool(ctx.found(group, window)) for group in groups)
    if parts >= rule.min_parts:
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
    start, end = _extent(ctx.agent)
    conf = ctx.agent_conf
    hits = []
    if not ctx.found("politeness.please") and not ctx.found("politeness.please_sounds"):
        hits.append(ctx.hit("politeness", rule.deduct, AGENT, start, end, "缺少「请」", conf))
    if not ctx.found("politeness.honorific"):
        lookalike = ctx.found("politeness.honorific_lookalikes")
        if lookalike:
            # 「您」 is often heard as 「你」: a 「你」 in a polite phrase is for a person to judge
            evidence = f"缺少「您」（听到「{lookalike[0].text}」，可能是「您」被识别为「你」）"
            review = ctx.hit(
                "politeness", rule.deduct, AGENT, start, end, evidence, conf, ambiguous=True
            )
            hits.append(review)
        else:
            hits.append(ctx.hit("politeness", rule.deduct, AGENT, start, end, "缺少「您」", conf))
    if not ctx.found("politeness.goodbyes"):
        hits.append(ctx.hit("politeness", rule.deduct, AGENT, start, end, "缺少「再见」", conf))
    return hits


def _rate(ctx: _Context, rule_id: str, rule: SpeechRateFast | SpeechRateSlow) -> list[Hit]:
    speaking = sum(u.end - u.start for u in ctx.agent)
    if speaking < rule.min_speech_s or speaking <= 0:
        return []
    chars = len(ctx.doc.keys) - max(0, len(ctx.agent) - 1)  # keys hold no spaces/punctuation
    rate = chars * 60.0 / speaking
    if isinstance(rule, SpeechRateFast):
        if rate <= rule.max_per_min:
            return []
    elif rate >= rule.min_per_min:
        return []
    start, end = _extent(ctx.agent)
    evidence = f"语速 {rate:.0f} 字/分钟（{chars} 字，说话 {speaking:.1f} 秒）"
    return [ctx.hit(rule_id, rule.deduct, AGENT, start, end, evidence, ctx.agent_conf)]


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


def _answer_late(ctx: _Context, rule: AnswerLate) -> list[Hit]:
    ring = ctx.call.ring_seconds
    if ring is None or ring <= rule.ring_period_s * rule.max_rings:
        return []
    rings = math.ceil(ring / rule.ring_period_s)
    evidence = f"响铃 {rings} 声 ({ring:.1f} 秒)"
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
