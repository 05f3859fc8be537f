"""Rule packs: the YAML a hotline edits, validated and compiled once. Rule: a pack that loads
is complete and consistent; anything wrong is refused with the file, the rule id and the
field named, and what to do.

A pack names its rules by stable id (see `RULE_IDS`); a rule left out of the file, or with
`enabled: false`, is not scored. Phrases are strings, or `{text: ..., exact: true}` for a
phrase that must be heard character for character (no sound tolerance).

Packs ship per regulation in `packs/` (`shipped_packs()`); a deployment names one of them
or a file path (`load_pack`). A pack may start from a shipped one (`extends: zh-CN`): its
mappings are merged into the base's, anything else (a phrase list) replaces the base's.
The ring limit is not in a pack: it is the switch's setting (`[rules]`), passed to scoring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hotline.core.errors import InvalidInput
from hotline.core.yamlfile import read_yaml
from hotline.quality.match import PhraseSet, PhraseSpec, SoundKeys, Tolerance, phrase_length


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Phrase(_Model):
    text: str = Field(min_length=1)
    exact: bool = False
    unless: tuple[str, ...] = ()  # e.g. 去死 unless 去世: heard text with these is not a hit
    # the rule's review tier finds this phrase only where one of these characters is heard
    # (by sound), e.g. 你怎么不去死 only with 去 or 死; empty: anywhere
    review_needs: str = ""
    # found only by the rule's review tier (a hit that needs review, never a deduction):
    # for a phrase whose strict match would mistake everyday words (你怎么不去…)
    review_only: bool = False
    # a phrase with innocent uses too (不清楚, 打错了): every hit on it needs review (no
    # deduction until a person confirms it)
    ambiguous: bool = False

    @model_validator(mode="after")
    def _needs_in_text(self) -> Phrase:
        stray = [c for c in self.review_needs if c not in self.text]
        if stray:
            raise ValueError(
                f"review_needs {''.join(stray)!r} not in the phrase {self.text!r}: "
                "name characters of the phrase itself"
            )
        return self


def _phrases(value: Any) -> Any:
    if isinstance(value, list):
        return [{"text": v} if isinstance(v, str) else v for v in value]
    return value


class _Rule(_Model):
    enabled: bool = True
    deduct: float = Field(ge=0, le=100)
    instant_fail: bool = False


class EditStep(_Model):
    min_len: int = Field(ge=1)
    edits: float = Field(ge=0, le=5)  # graded: a near sound or a light character counts less


class _PhraseRule(_Rule):
    # phrases of this rule may stray this much further than matching.max_edits allows:
    # looser for "was it said?" checks (a miss costs a wrong deduction), 0 for phrases that
    # deduct when heard
    extra_edits: int = Field(0, ge=0, le=3)
    # this rule's own edits-by-length table instead of matching.max_edits
    max_edits: tuple[EditStep, ...] | None = None
    # this rule's own matching.protect_below_len: negations must be heard in its phrases
    # shorter than this (不归我们管 is not 归我们管)
    protect_below_len: int | None = Field(None, ge=2)


AGENT_NUMBER_PLACE = "{工号}"


class GreetingMissing(_PhraseRule):
    window_s: float = Field(15.0, gt=0)
    min_parts: int = Field(2, ge=1, le=3)
    salutations: tuple[Phrase, ...] = Field(min_length=1)
    help_offers: tuple[Phrase, ...] = Field(min_length=1)
    # the regulation's own greeting, word for word, with {工号} where the agent's number is
    # said: a greeting that holds every fixed part of one script is complete
    scripts: tuple[str, ...] = ()

    _p = field_validator("salutations", "help_offers", mode="before")(_phrases)

    @field_validator("scripts")
    @classmethod
    def _scripts(cls, scripts: tuple[str, ...]) -> tuple[str, ...]:
        for script in scripts:
            if script.count(AGENT_NUMBER_PLACE) > 1 or not script_parts(script):
                raise ValueError(
                    f"script {script!r}: write the greeting's words with {AGENT_NUMBER_PLACE} "
                    "at most once where the agent's number is said, e.g. 您好，{工号}号为您服务"
                )
        return scripts


def script_parts(script: str) -> tuple[str, ...]:
    """The fixed wording of a greeting script around its {工号}: the parts of two or more
    characters that count (one character alone proves nothing)."""
    return tuple(part for part in script.split(AGENT_NUMBER_PLACE) if phrase_length(part) >= 2)


class GreetingAgentNumber(_Rule):
    window_s: float = Field(15.0, gt=0)


class ClosingMissing(_PhraseRule):
    window_s: float = Field(30.0, gt=0)
    checks: tuple[Phrase, ...] = Field(min_length=1)
    goodbyes: tuple[Phrase, ...] = Field(min_length=1)

    _p = field_validator("checks", "goodbyes", mode="before")(_phrases)


class PhraseRule(_PhraseRule):
    phrases: tuple[Phrase, ...] = Field(min_length=1)
    # the review tier: a phrase heard beyond the tolerance above but within this looser one
    # (this many more edits; with review_subs any character may be misheard) is a hit that
    # needs review: no deduction and no instant fail until a person confirms it
    review_extra_edits: int = Field(0, ge=0, le=3)
    review_subs: bool = False
    review_min_len: int = Field(4, ge=2)  # shorter phrases have no review tier

    _p = field_validator("phrases", mode="before")(_phrases)

    @model_validator(mode="after")
    def _review_only_has_a_tier(self) -> PhraseRule:
        tier = self.review_extra_edits > 0 or self.review_subs
        for p in self.phrases:
            if p.review_only and (
                not tier or p.exact or phrase_length(p.text) < self.review_min_len
            ):
                raise ValueError(
                    f"phrase {p.text!r} is review_only but has no review tier (it would never "
                    "be found): set review_extra_edits or review_subs on the rule, and give it "
                    "at least review_min_len characters and no exact"
                )
        return self


class RequiredWord(_Model):
    """One word the agent must say at least once in a call (三要, 十字, or the hotline's own)."""

    word: str = Field(min_length=1)
    # what counts as the word said; default: the word itself (a single character exactly,
    # since one character by sound is found everywhere: 请 and 清, 情)
    heard_as: tuple[Phrase, ...] = ()
    # heard instead of the word when the recogniser likely misheard it (你 for 您): the miss
    # then needs review
    lookalikes: tuple[Phrase, ...] = ()

    _p = field_validator("heard_as", "lookalikes", mode="before")(_phrases)

    @property
    def phrases(self) -> tuple[Phrase, ...]:
        return self.heard_as or (Phrase(text=self.word, exact=phrase_length(self.word) == 1),)


class Politeness(_PhraseRule):
    words: tuple[RequiredWord, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _old_form(cls, data: Any) -> Any:
        old = {"please", "please_sounds", "honorific", "honorific_lookalikes", "goodbyes"}
        if isinstance(data, Mapping) and old & set(data):
            raise ValueError(
                "必说文明用语改为 words 列表 (please / honorific / goodbyes are now one list "
                "`words`, each {word, heard_as, lookalikes}): see the politeness rule of the "
                "shipped zh-CN.yaml"
            )
        return data

    @field_validator("words", mode="before")
    @classmethod
    def _words(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"word": v} if isinstance(v, str) else v for v in value]
        return value


class _SpeechRateRule(_Rule):
    """Only the deduction: the band is the pack's `speech_rate` section, one for both."""

    @model_validator(mode="before")
    @classmethod
    def _band_elsewhere(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and {"max_per_min", "min_per_min", "min_speech_s"} & set(data):
            raise ValueError(
                "语速范围改在 speech_rate 中设置 (max_per_min / min_per_min / min_speech_s moved "
                "to the pack's speech_rate section: target_per_min, band_per_min, min_speech_s)"
            )
        return data


class SpeechRateFast(_SpeechRateRule):
    pass


class SpeechRateSlow(_SpeechRateRule):
    pass


class Interruption(_Rule):
    """抢话: the agent starts while the customer is still speaking and both talk on for more
    than `tolerance_s`; a call with more than `max_per_call` of them is a hit."""

    tolerance_s: float = Field(1.0, ge=0)
    max_per_call: int = Field(0, ge=0)


class SilenceLong(_Rule):
    max_s: float = Field(15.0, gt=0)


class AnswerLate(_Rule):
    """The ring limit itself is the deployment's setting ([rules] ring_period_s, max_rings)."""

    @model_validator(mode="before")
    @classmethod
    def _no_ring_limit_here(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and {"ring_period_s", "max_rings"} & set(data):
            raise ValueError(
                "响铃时限不在规则包中设置 (the ring limit is not a pack setting): remove "
                "ring_period_s / max_rings here and set them once in the settings, "
                "[rules] ring_period_s and max_rings (HOTLINE_RULES__MAX_RINGS)"
            )
        return data


class Rules(_Model):
    greeting_missing: GreetingMissing | None = None
    greeting_agent_number: GreetingAgentNumber | None = None
    closing_missing: ClosingMissing | None = None
    forbidden_phrase: PhraseRule | None = None
    abusive_language: PhraseRule | None = None
    politeness: Politeness | None = None
    speech_rate_fast: SpeechRateFast | None = None
    speech_rate_slow: SpeechRateSlow | None = None
    interruption: Interruption | None = None
    silence_long: SilenceLong | None = None
    answer_late: AnswerLate | None = None


RULE_IDS = tuple(Rules.model_fields)


class Matching(_Model):
    max_edits: tuple[EditStep, ...] = (
        EditStep(min_len=1, edits=0),
        EditStep(min_len=3, edits=1),
        EditStep(min_len=9, edits=2),
    )
    ends_min_len: int = Field(5, ge=2)
    subs_min_len: int = Field(7, ge=2)
    protected: str = "不没别未无非"
    protect_below_len: int = Field(5, ge=2)
    near_cost: float = Field(1.0, gt=0, le=1)
    light: str = ""
    light_cost: float = Field(1.0, gt=0, le=1)
    light_min_heavy: int = Field(3, ge=1)
    near_ends_min_len: int = Field(4, ge=2)
    fold_initials: dict[str, str] = {"zh": "z", "ch": "c", "sh": "s", "n": "l", "r": "l", "f": "h"}
    fold_finals: dict[str, str] = {"ing": "in", "eng": "en", "ang": "an"}
    same_sound: dict[str, str] = {"您": "你", "幺": "一", "两": "二"}
    # words the recogniser may cut short at the very end of the agent's channel (再见 heard
    # as 再 closing the last utterance): at least their first half there counts as the
    # word said, for required words and the closing's goodbyes; () = whole words only
    cut_words_at_end: tuple[str, ...] = ("再见", "再会", "谢谢")

    @field_validator("cut_words_at_end")
    @classmethod
    def _cut_words(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        short = [w for w in words if phrase_length(w) < 2]
        if short:
            raise ValueError(f"{short}: a word cut short needs two characters or more, e.g. 再见")
        return words

    digit_sounds: dict[str, tuple[str, ...]] = {
        "0": ("ling", "dong"),
        "1": ("yi", "yao"),
        "2": ("er", "liang"),
        "3": ("san",),
        "4": ("si",),
        "5": ("wu",),
        "6": ("liu",),
        "7": ("qi",),
        "8": ("ba",),
        "9": ("jiu",),
    }

    @field_validator("max_edits")
    @classmethod
    def _ascending(cls, steps: tuple[EditStep, ...]) -> tuple[EditStep, ...]:
        lens = [s.min_len for s in steps]
        if lens != sorted(set(lens)):
            raise ValueError("steps must have strictly ascending min_len, e.g. 1, 4, 9")
        return steps

    @field_validator("digit_sounds")
    @classmethod
    def _digits(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        bad = [d for d in value if len(d) != 1 or not d.isdigit()]
        if bad:
            raise ValueError(f"keys must be the digits 0-9, not {bad}")
        return value


class SpeechRate(_Model):
    """The regulation's speech rate (每分钟120个字左右) and the band around it."""

    target_per_min: float = Field(120.0, gt=0)
    band_per_min: float = Field(30.0, ge=0)  # judged outside target ± band
    min_speech_s: float = Field(10.0, ge=0)  # judged once the agent spoke this long

    @model_validator(mode="after")
    def _positive(self) -> SpeechRate:
        if self.band_per_min >= self.target_per_min:
            raise ValueError("band_per_min must be smaller than target_per_min")
        return self

    @property
    def low(self) -> float:
        return self.target_per_min - self.band_per_min

    @property
    def high(self) -> float:
        return self.target_per_min + self.band_per_min


class Band(_Model):
    label: str = Field(min_length=1)
    min: float = Field(ge=0, le=100)


class PackFile(_Model):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    version: str
    name: str = ""
    regulation: str = ""  # the regulation the pack follows, e.g. 客服热线管理办法
    organisation: str = Field(min_length=1)
    organisation_aliases: tuple[str, ...] = ()
    review_below_conf: float = Field(0.6, ge=0, le=1)
    bands: tuple[Band, ...] = Field(min_length=1)
    matching: Matching = Matching()
    speech_rate: SpeechRate = SpeechRate()
    rules: Rules

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("bands")
    @classmethod
    def _bands(cls, bands: tuple[Band, ...]) -> tuple[Band, ...]:
        if min(b.min for b in bands) != 0:
            raise ValueError("the lowest band must have min: 0 so every score has a band")
        return tuple(sorted(bands, key=lambda b: -b.min))


@dataclass(frozen=True, slots=True)
class Pack:
    """A loaded pack: its settings and the phrase matcher compiled from them."""

    config: PackFile
    source: str  # the file it came from
    sound: SoundKeys = field(repr=False, compare=False)
    opening: PhraseSet = field(repr=False, compare=False)  # searched in the greeting window
    closing: PhraseSet = field(repr=False, compare=False)  # in the closing window
    anywhere: PhraseSet = field(repr=False, compare=False)  # on the whole agent side
    # the greeting scripts' parts, searched in the greeting window only when the greeting's
    # parts fall short (most greetings pass on their parts: the long scripts cost time)
    scripts: PhraseSet = field(repr=False, compare=False)
    # (group, phrase) of the phrases whose every hit needs review
    ambiguous: frozenset[tuple[str, str]] = field(default=frozenset(), repr=False)

    @property
    def label(self) -> str:
        return f"{self.config.id}@{self.config.version}"

    @property
    def rules(self) -> Rules:
        return self.config.rules

    def band(self, score: float) -> str:
        for band in self.config.bands:
            if score >= band.min:
                return band.label
        return self.config.bands[-1].label

    @property
    def lowest_band(self) -> str:
        return self.config.bands[-1].label


PACKS_DIR = Path(__file__).resolve().parent / "packs"
DEFAULT_PACK = "zh-CN"


def shipped_packs() -> tuple[str, ...]:
    """The names of the packs shipped with Hotline (one per regulation), default first."""
    names = sorted(p.stem for p in PACKS_DIR.glob("*.yaml"))
    return (DEFAULT_PACK, *(n for n in names if n != DEFAULT_PACK))


def default_pack_path() -> Path:
    return PACKS_DIR / f"{DEFAULT_PACK}.yaml"


def pack_path(choice: str | Path | None) -> Path:
    """Where the chosen pack is: None is the default, a shipped pack's name its file,
    anything else a path."""
    if choice is None or str(choice) == "":
        return default_pack_path()
    if str(choice) in shipped_packs():
        return PACKS_DIR / f"{choice}.yaml"
    path = Path(choice)
    if not path.exists() and path.suffix not in (".yaml", ".yml") and len(path.parts) == 1:
        raise InvalidInput(
            f"质检规则包 {choice} 不存在 (no shipped rule pack is named {str(choice)!r} and "
            f"no such file): name one of {', '.join(shipped_packs())} or give the path of a "
            "YAML file in the quality.pack setting (HOTLINE_QUALITY__PACK)"
        )
    return path


def load_pack(choice: str | Path | None = None) -> Pack:
    """Read, validate and compile a rule pack: a shipped pack's name (zh-CN, highway, ...),
    a file path, or None for the default zh-CN pack."""
    path = pack_path(choice)
    raw = _read(path, seen=())
    return pack_from_dict(raw, source=str(path))


def _read(path: Path, seen: tuple[str, ...]) -> Any:
    """A pack file's mapping, with the shipped pack it `extends` merged in beneath it."""
    raw = read_yaml(path, "质检规则包 rule pack", "quality.pack")
    if not isinstance(raw, Mapping) or "extends" not in raw:
        return raw
    base = raw["extends"]
    if not isinstance(base, str) or base not in shipped_packs():
        raise InvalidInput(
            f"质检规则包 {path} 的 extends 无效 (extends: {base!r} is not a shipped pack): "
            f"name one of {', '.join(shipped_packs())}"
        )
    if base in seen:
        raise InvalidInput(
            f"质检规则包 {path}: extends 循环引用 (packs extend each other: "
            f"{' -> '.join((*seen, base))}); let one of them stand alone"
        )
    merged = _merge(_read(PACKS_DIR / f"{base}.yaml", (*seen, base)), raw)
    merged.pop("extends", None)
    return merged


def _merge(base: Any, over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`: mappings merge key by key, anything else replaces."""
    out = dict(base) if isinstance(base, Mapping) else {}
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def pack_from_dict(raw: Any, source: str = "<pack>") -> Pack:
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            f"质检规则包 {source} 必须是一个映射 (the rule pack must be a YAML mapping with id, "
            "version, organisation, bands, rules); start from the default zh-CN.yaml"
        )
    try:
        config = PackFile.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(_explain(exc, source)) from exc
    sound = SoundKeys(
        fold_initials=config.matching.fold_initials,
        fold_finals=config.matching.fold_finals,
        same_sound=config.matching.same_sound,
        digit_sounds=config.matching.digit_sounds,
    )
    tolerance = tolerance_of(config.matching)
    specs = _specs(config)
    scripts = [s for s in specs if s.group.startswith("greeting_missing.script")]
    opening = [
        s
        for s in specs
        if s.group.startswith(("greeting_missing.", "organisation")) and s not in scripts
    ]
    closing = [s for s in specs if s.group.startswith("closing_missing.")]
    anywhere = [s for s in specs if s not in opening and s not in closing and s not in scripts]
    return Pack(
        config,
        source,
        sound,
        PhraseSet(opening, sound, tolerance, presence=True),
        PhraseSet(closing, sound, tolerance, presence=True),
        PhraseSet(anywhere, sound, tolerance),
        PhraseSet(scripts, sound, tolerance, presence=True),
        frozenset((s.group, s.text) for s in specs if s.ambiguous),
    )


def tolerance_of(matching: Matching) -> Tolerance:
    """The matcher's tolerance from a pack's `matching` section."""
    return Tolerance(
        tuple((s.min_len, s.edits) for s in matching.max_edits),
        matching.ends_min_len,
        matching.subs_min_len,
        matching.protected,
        matching.protect_below_len,
        matching.near_cost,
        matching.light,
        matching.light_cost,
        matching.light_min_heavy,
        matching.near_ends_min_len,
    )


def script_group(i: int, j: int) -> str:
    return f"greeting_missing.script{i}.{j}"


def word_group(i: int) -> str:
    return f"politeness.word{i}"


def lookalike_group(i: int) -> str:
    return f"politeness.lookalike{i}"


def _specs(config: PackFile) -> list[PhraseSpec]:
    """Every phrase of the pack, grouped by "<rule>.<list>"."""
    greeting = config.rules.greeting_missing
    extra = greeting.extra_edits if greeting else 0
    specs = [
        PhraseSpec("organisation", name, extra_edits=extra)
        for name in (config.organisation, *config.organisation_aliases)
    ]
    if greeting:
        specs += [
            PhraseSpec(script_group(i, j), part, extra_edits=extra)
            for i, script in enumerate(greeting.scripts)
            for j, part in enumerate(script_parts(script))
        ]
    for rule_id in RULE_IDS:
        rule = getattr(config.rules, rule_id)
        if not isinstance(rule, _PhraseRule):
            continue
        lists: list[tuple[str, tuple[Phrase, ...]]] = [
            (f"{rule_id}.{name}", value)
            for name, value in rule
            if isinstance(value, tuple) and value and isinstance(value[0], Phrase)
        ]
        if isinstance(rule, Politeness):
            for i, word in enumerate(rule.words):
                lists.append((word_group(i), word.phrases))
                if word.lookalikes:
                    lists.append((lookalike_group(i), word.lookalikes))
        table = tuple((s.min_len, s.edits) for s in rule.max_edits) if rule.max_edits else None
        for group, phrases in lists:
            specs += [
                PhraseSpec(
                    group,
                    p.text,
                    p.exact,
                    p.unless,
                    rule.extra_edits,
                    table,
                    *_review_tier(rule, p),
                    ambiguous=p.ambiguous,
                    protect_below_len=rule.protect_below_len or 0,
                )
                for p in phrases
            ]
    return specs


def _review_tier(rule: _PhraseRule, phrase: Phrase) -> tuple[int, bool, str, bool]:
    """A phrase's review tier: extra edits, any character misheard, characters needed,
    review only."""
    if not isinstance(rule, PhraseRule) or phrase_length(phrase.text) < rule.review_min_len:
        return 0, False, "", False
    return rule.review_extra_edits, rule.review_subs, phrase.review_needs, phrase.review_only


def _explain(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        if loc[:1] == ["rules"] and len(loc) >= 2:
            rule = loc[1]
            if err["type"] == "extra_forbidden" and len(loc) == 2:
                lines.append(
                    f"未知规则 {rule} (unknown rule id {rule!r}; the ids are "
                    f"{', '.join(RULE_IDS)}): rename it or remove it"
                )
                continue
            where = f"规则 {rule} 的字段 {'.'.join(loc[2:]) or '(整条规则)'}"
            where_en = f"rule {rule}, field {'.'.join(loc[2:]) or '(the rule itself)'}"
        else:
            where = f"字段 {'.'.join(loc)}"
            where_en = f"field {'.'.join(loc)}"
        lines.append(f"{where} ({where_en}): {err['msg']}")
    return (
        f"质检规则包 {source} 有误 (rule pack {source} is invalid): "
        + "; ".join(lines)
        + ". 请按提示修改该文件 (fix these fields in the file; the default zh-CN.yaml shows "
        "every field with comments)"
    )
