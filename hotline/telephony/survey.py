"""The post-call survey (来电满意度评价). Rule: what a key means and how the rates are
counted are decided here, and nowhere else; pure functions, no I/O.

The dialplan ([hotline-survey] in deploy/asterisk/extensions.conf) sends
`UserEvent(HotlineSurvey,Result: offered)` when the prompt starts, then one
`UserEvent(HotlineSurvey,Result: <key>)`: 1 满意, 2 基本满意, 3 不满意, `none` when the
caller pressed no valid key twice. A call whose survey was offered and that ends with no
answer (the caller hung up during the prompt) is 未评价.

参评率 = calls with an answer (1/2/3) / calls the survey was offered on;
满意率 = (满意 + 基本满意) / calls with an answer. Both are None when there is nothing to divide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hotline.telephony.model import SurveyResult

SURVEY_EVENT = "hotlinesurvey"  # UserEvent name, lower case
OFFERED = "offered"  # Result header of the event sent when the prompt starts
KEYS = {"1": SurveyResult.SATISFIED, "2": SurveyResult.BASIC, "3": SurveyResult.UNSATISFIED}
LABELS = {
    SurveyResult.SATISFIED: "满意",
    SurveyResult.BASIC: "基本满意",
    SurveyResult.UNSATISFIED: "不满意",
    SurveyResult.UNRATED: "未评价",
}
ALERT_TOPIC = "alert/survey_unsatisfied"
RATED = frozenset({SurveyResult.SATISFIED, SurveyResult.BASIC, SurveyResult.UNSATISFIED})


def read_result(text: str | None) -> SurveyResult | None:
    """The Result header of a HotlineSurvey event: a key's verdict, 未评价 for anything
    else (none, timeout, a wrong key), None for `offered` (the prompt started)."""
    value = (text or "").strip().lower()
    if value == OFFERED:
        return None
    return KEYS.get(value, SurveyResult.UNRATED)


def surveyed(queue: str | None, off_queues: Iterable[str]) -> bool:
    """False for a call answered in a queue whose survey is turned off."""
    return queue is None or queue not in set(off_queues)


@dataclass(frozen=True, slots=True)
class SurveyRates:
    """The survey figures of one agent, queue or period."""

    key: str | None
    offered: int = 0
    satisfied: int = 0
    basic: int = 0
    unsatisfied: int = 0

    @property
    def rated(self) -> int:
        return self.satisfied + self.basic + self.unsatisfied

    @property
    def unrated(self) -> int:
        return self.offered - self.rated

    @property
    def participation_pct(self) -> float | None:  # 参评率
        return round(100.0 * self.rated / self.offered, 1) if self.offered else None

    @property
    def satisfaction_pct(self) -> float | None:  # 满意率
        return round(100.0 * (self.satisfied + self.basic) / self.rated, 1) if self.rated else None

    def add(self, result: SurveyResult, n: int = 1) -> SurveyRates:
        return SurveyRates(
            self.key,
            self.offered + n,
            self.satisfied + n * (result is SurveyResult.SATISFIED),
            self.basic + n * (result is SurveyResult.BASIC),
            self.unsatisfied + n * (result is SurveyResult.UNSATISFIED),
        )


def rates(counts: Iterable[tuple[str | None, SurveyResult, int]]) -> list[SurveyRates]:
    """Survey figures per key (an agent, a queue, or one key for all) from (key, result,
    how many) counts, sorted by key."""
    by_key: dict[str | None, SurveyRates] = {}
    for key, result, n in counts:
        by_key[key] = by_key.get(key, SurveyRates(key)).add(result, n)
    return sorted(by_key.values(), key=lambda r: (r.key is None, r.key or ""))
