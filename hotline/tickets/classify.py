"""What the customer asks for, by a YAML pack of weighted keywords. Rule: the category with
the strongest weighted evidence in the customer's own words wins, except that an emergency
(gas leak, fire) always wins and is always urgent; a keyword after a negation (「没有闻到煤气味」)
counts for nothing; no evidence means 咨询 with a low confidence for the agent to check.

Keywords are compared with the normalized text (no spaces, simplified), in every spelling
the pack's synonyms allow (煤汽 for 煤气); overlapping keywords count once, the longest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.asr.transcript import Utterance, normalize
from hotline.core.errors import InvalidInput
from hotline.core.yamlfile import read_yaml
from hotline.tickets.extract import customer_side, span_evidence
from hotline.tickets.model import Category, Classification, Evidence

DEFAULT_PACK = Path(__file__).parent / "packs" / "zh-CN.yaml"
MAX_EVIDENCE = 5
# when two categories weigh the same, the one that needs more care wins
_PRECEDENCE = (
    Category.EMERGENCY,
    Category.COMPLAINT,
    Category.REPORT,
    Category.REPAIR,
    Category.SERVICE,
    Category.SUGGESTION,
    Category.PRAISE,
    Category.CONSULT,
)


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    category: Category
    unit: str


@dataclass(frozen=True, slots=True)
class Keyword:
    """One spelling of a pack keyword; `topic` None means a cue of `category` itself."""

    text: str
    word: str  # the keyword as the pack writes it
    category: Category
    weight: float
    topic: str | None


@dataclass(frozen=True, slots=True)
class ClassifyPack:
    name: str
    source: str
    keywords: tuple[Keyword, ...]  # every spelling, longest first
    topics: tuple[Topic, ...]
    category_units: tuple[tuple[Category, str], ...]
    urgent: tuple[str, ...]
    negations: tuple[str, ...]
    negation_window: int
    breaks: tuple[str, ...]
    exceptions: tuple[str, ...]
    sure_score: float
    no_match_confidence: float
    split_min_score: float

    def topic(self, name: str) -> Topic:
        return next(t for t in self.topics if t.name == name)

    def category_unit(self, category: Category) -> str | None:
        return dict(self.category_units).get(category)


@dataclass(frozen=True, slots=True)
class Hit:
    keyword: Keyword
    utterance: int  # index in the utterances classified
    evidence: Evidence


# --- classification ----------------------------------------------------------------------------


def classify(utterances: Sequence[Utterance], pack: ClassifyPack) -> Classification:
    """The category, topic and unit of what the customer says, with the evidence."""
    said = customer_side(utterances)
    return _decide(_hits(said, pack), [e for _, e in _urgent_hits(said, pack)], pack)


def classify_all(utterances: Sequence[Utterance], pack: ClassifyPack) -> tuple[Classification, ...]:
    """One classification per responsible unit the customer asks something of, the primary
    (the whole call's) first: a call about 停气 and a wrong 燃气费 bill gives one for 抢修中心
    and one for 营业厅. A unit needs `split_min_score` of topic evidence for its own ticket."""
    said = customer_side(utterances)
    hits = _hits(said, pack)
    urgent = _urgent_hits(said, pack)
    primary = _decide(hits, [e for _, e in urgent], pack)
    by_unit: dict[str, float] = defaultdict(float)
    for h in hits:
        if h.keyword.topic is not None:
            by_unit[pack.topic(h.keyword.topic).unit] += h.keyword.weight
    result = [primary]
    others = sorted(
        (u for u, w in by_unit.items() if u != primary.unit and w >= pack.split_min_score),
        key=lambda u: -by_unit[u],
    )
    for unit in others:
        mine = {
            h.utterance
            for h in hits
            if h.keyword.topic is not None and pack.topic(h.keyword.topic).unit == unit
        }
        kept = [
            h
            for h in hits
            if h.utterance in mine
            and (h.keyword.topic is None or pack.topic(h.keyword.topic).unit == unit)
            and h.keyword.category is not Category.EMERGENCY
        ]
        result.append(_decide(kept, [e for i, e in urgent if i in mine], pack, unit=unit))
    return tuple(result)


def urgent_hit(text: str, pack: ClassifyPack) -> Evidence | None:
    """The first urgent words in one utterance (an emergency keyword or an urgent word, not
    negated), for the live alert while the call goes on; None when there are none."""
    normalized = normalize(text)
    for kw, s, e in _matches(normalized, pack.keywords, pack):
        if kw.category is Category.EMERGENCY:
            return Evidence(normalized[s:e])
    for s, e in _find_all(normalized, pack.urgent, pack):
        return Evidence(normalized[s:e])
    return None


def _decide(
    hits: Sequence[Hit],
    urgent_words: Sequence[Evidence],
    pack: ClassifyPack,
    *,
    unit: str | None = None,
) -> Classification:
    scores: dict[Category, float] = defaultdict(float)
    for h in hits:
        scores[h.keyword.category] += h.keyword.weight
    total = sum(scores.values())
    if total <= 0:
        return Classification(
            category=Category.CONSULT,
            urgent=bool(urgent_words),
            confidence=pack.no_match_confidence,
            evidence=tuple(urgent_words[:MAX_EVIDENCE]),
            topic=None,
            unit=unit,
        )
    if scores.get(Category.EMERGENCY, 0) > 0:
        category = Category.EMERGENCY
    else:
        category = max(_PRECEDENCE, key=lambda c: (scores.get(c, 0), -_PRECEDENCE.index(c)))
    best = scores[category]
    confidence = round(min(1.0, best / pack.sure_score) * best / total, 2)
    topic_scores: dict[str, float] = defaultdict(float)
    for h in hits:
        if h.keyword.topic is not None:
            topic_scores[h.keyword.topic] += h.keyword.weight
    topic = (
        max(
            topic_scores,
            key=lambda t: (pack.topic(t).category is category, topic_scores[t]),
        )
        if topic_scores
        else None
    )
    chosen_unit = unit or (pack.topic(topic).unit if topic else pack.category_unit(category))
    evidence = tuple(
        h.evidence
        for h in hits
        if h.keyword.category is category or (topic is not None and h.keyword.topic == topic)
    )
    return Classification(
        category=category,
        urgent=category is Category.EMERGENCY or bool(urgent_words),
        confidence=max(confidence, 0.05),
        evidence=(*evidence, *urgent_words)[:MAX_EVIDENCE],
        topic=topic,
        unit=chosen_unit,
    )


# --- matching ----------------------------------------------------------------------------------


def _hits(utterances: Sequence[Utterance], pack: ClassifyPack) -> list[Hit]:
    return [
        Hit(kw, i, span_evidence(u, s, e))
        for i, u in enumerate(utterances)
        for kw, s, e in _matches(u.normalized, pack.keywords, pack)
    ]


def _urgent_hits(utterances: Sequence[Utterance], pack: ClassifyPack) -> list[tuple[int, Evidence]]:
    return [
        (i, span_evidence(u, s, e))
        for i, u in enumerate(utterances)
        for s, e in _find_all(u.normalized, pack.urgent, pack)
    ]


def _matches(
    text: str, keywords: Sequence[Keyword], pack: ClassifyPack
) -> list[tuple[Keyword, int, int]]:
    """Non-overlapping, non-negated keyword occurrences in `text`, in text order; where
    keywords overlap the longest counts (`keywords` come longest first)."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[Keyword, int, int]] = []
    for kw in keywords:
        at = text.find(kw.text)
        while at >= 0:
            end = at + len(kw.text)
            if not any(at < te and ts < end for ts, te in taken):
                taken.append((at, end))
                if not _negated(text, at, pack):
                    found.append((kw, at, end))
            at = text.find(kw.text, at + 1)
    return sorted(found, key=lambda f: f[1])


def _find_all(text: str, words: Sequence[str], pack: ClassifyPack) -> list[tuple[int, int]]:
    spans = [
        (at, at + len(w))
        for w in words
        for at in _occurrences(text, w)
        if not _negated(text, at, pack)
    ]
    return sorted(set(spans))


def _occurrences(text: str, word: str) -> Iterable[int]:
    at = text.find(word)
    while at >= 0:
        yield at
        at = text.find(word, at + 1)


def _negated(text: str, at: int, pack: ClassifyPack) -> bool:
    """A negation prefix within `negation_window` characters before `at`, in the same clause,
    that is not part of an exception (是不是, 不停 …)."""
    masked = text
    for ex in pack.exceptions:
        masked = masked.replace(ex, "\0" * len(ex))
    lo = max(0, at - pack.negation_window)
    for br in pack.breaks:
        cut = masked.rfind(br, lo, at)
        if cut >= 0:
            lo = max(lo, cut + len(br))
    window = masked[lo:at]
    return any(neg in window for neg in pack.negations)


# --- the pack file -----------------------------------------------------------------------------


def load_pack(path: Path | None = None) -> ClassifyPack:
    """The classification pack at `path` (None: the default zh-CN pack), validated; errors
    name the file and the field."""
    source = path or DEFAULT_PACK
    data = read_yaml(source, "分类规则包 classification pack", "tickets.pack")
    return _parse(data, str(source))


def _parse(data: Any, src: str) -> ClassifyPack:
    def bad(field: str, what: str) -> InvalidInput:
        return InvalidInput(f"分类规则包格式错误 ({src}: field '{field}' {what})")

    if not isinstance(data, Mapping):
        raise bad("(top)", "must be a mapping with categories and topics")
    synonyms = data.get("synonyms") or {}
    if not isinstance(synonyms, Mapping) or not all(
        isinstance(k, str) and _str_list(v) for k, v in synonyms.items()
    ):
        raise bad("synonyms", "must map a word to a list of spellings, e.g. 煤气: [煤汽]")
    spellings = {normalize(k): [normalize(v) for v in vs] for k, vs in synonyms.items()}

    seen: dict[str, str] = {}
    keywords: list[Keyword] = []

    def add(words: Any, field: str, category: Category, topic: str | None) -> None:
        if not isinstance(words, Mapping) or not words:
            raise bad(field, "must map each keyword to its weight, e.g. {漏气: 5}")
        for word, weight in words.items():
            if not isinstance(word, str) or not normalize(word):
                raise bad(field, f"has an empty or non-text keyword {word!r}")
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise bad(f"{field}.{word}", f"must be a positive weight, got {weight!r}")
            for text in _spellings(normalize(word), spellings):
                if text in seen:
                    raise bad(field, f"repeats the keyword {word!r} (also in {seen[text]})")
                seen[text] = field
                keywords.append(Keyword(text, word, category, float(weight), topic))

    categories = data.get("categories")
    if not isinstance(categories, Mapping):
        raise bad("categories", "must map each category to {unit, cues}")
    units: list[tuple[Category, str]] = []
    for name, body in categories.items():
        category = _category(name, f"categories.{name}", bad)
        if not isinstance(body, Mapping) or not isinstance(body.get("unit"), str):
            raise bad(f"categories.{name}", "needs a unit (the responsible unit's name)")
        units.append((category, body["unit"]))
        if body.get("cues"):
            add(body["cues"], f"categories.{name}.cues", category, None)

    topics_data = data.get("topics")
    if not isinstance(topics_data, Mapping) or not topics_data:
        raise bad("topics", "must map each topic name to {category, unit, keywords}")
    topics: list[Topic] = []
    for name, body in topics_data.items():
        field = f"topics.{name}"
        if not isinstance(body, Mapping) or not isinstance(body.get("unit"), str):
            raise bad(field, "needs category, unit and keywords")
        category = _category(body.get("category"), f"{field}.category", bad)
        topics.append(Topic(str(name), category, body["unit"]))
        add(body.get("keywords"), f"{field}.keywords", category, str(name))

    negation = data.get("negation") or {}
    if not isinstance(negation, Mapping):
        raise bad("negation", "must be a mapping with prefixes, window, breaks, exceptions")
    lists: dict[str, tuple[str, ...]] = {}
    for field, value in (
        ("urgent", data.get("urgent", [])),
        ("negation.prefixes", negation.get("prefixes", [])),
        ("negation.breaks", negation.get("breaks", [])),
        ("negation.exceptions", negation.get("exceptions", [])),
    ):
        if not _str_list(value):
            raise bad(field, "must be a list of words")
        lists[field] = tuple(normalize(v) or v for v in value)
    numbers = {
        "negation.window": negation.get("window", 4),
        "sure_score": data.get("sure_score", 5),
        "no_match_confidence": data.get("no_match_confidence", 0.2),
        "split_min_score": data.get("split_min_score", 3),
    }
    for field, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise bad(field, f"must be a positive number, got {value!r}")
    if numbers["no_match_confidence"] > 1:
        raise bad("no_match_confidence", "must be between 0 and 1")
    return ClassifyPack(
        name=str(data.get("pack", Path(src).stem)),
        source=src,
        keywords=tuple(sorted(keywords, key=lambda k: -len(k.text))),
        topics=tuple(topics),
        category_units=tuple(units),
        urgent=lists["urgent"],
        negations=lists["negation.prefixes"],
        negation_window=int(numbers["negation.window"]),
        breaks=lists["negation.breaks"],
        exceptions=lists["negation.exceptions"],
        sure_score=float(numbers["sure_score"]),
        no_match_confidence=float(numbers["no_match_confidence"]),
        split_min_score=float(numbers["split_min_score"]),
    )


def _category(name: Any, field: str, bad: Any) -> Category:
    try:
        return Category(name)
    except ValueError:
        known = ", ".join(c.value for c in Category)
        raise bad(field, f"names an unknown category {name!r} (one of {known})") from None


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _spellings(word: str, synonyms: Mapping[str, list[str]]) -> list[str]:
    """`word` and every spelling the synonyms allow (each synonym applied, in combination)."""
    forms = {word}
    for canonical, variants in synonyms.items():
        forms |= {f.replace(canonical, v) for f in forms if canonical in f for v in variants}
    return sorted(forms)
