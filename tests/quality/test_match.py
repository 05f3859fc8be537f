"""Sound keys and fuzzy phrase search: what ASR does to Chinese telephone speech (spaces,
traditional characters, homophones, a dropped or extra character) must not hide a phrase,
and a phrase that means something else must not be found."""

from __future__ import annotations

from typing import Any

from hotline.asr.transcript import normalize
from hotline.quality.match import Doc, PhraseSet, PhraseSpec, number_heard
from hotline.quality.pack import load_pack, tolerance_of

PACK = load_pack()
SOUND = PACK.sound
TOLERANCE = tolerance_of(PACK.config.matching)


def find(phrase: str, *texts: str, **spec: Any) -> list[tuple[int, int, int, str]]:
    """Where the default pack's matcher finds `phrase` in utterances heard as `texts`."""
    phrases = PhraseSet([PhraseSpec("g", phrase, **spec)], SOUND, TOLERANCE)
    doc = Doc.of([normalize(t) for t in texts], SOUND)  # as Utterance.normalized holds them
    return [(s.segment, s.start, s.end, s.text) for s in phrases.find(doc)]


def test_spaces_punctuation_and_traditional_characters_do_not_count() -> None:
    assert SOUND.keys("再 見！") == SOUND.keys("再见")
    assert find("请问有什么可以帮您", "請問，有 什麼 可以 幫您？") == [
        (0, 0, 10, "请问，有什么可以帮您")
    ]


def test_homophones_and_near_homophones_share_a_key() -> None:
    assert SOUND.keys("在见") == SOUND.keys("再见")
    assert SOUND.keys("帮你") == SOUND.keys("帮您")  # 您 is so often heard as 你
    assert SOUND.keys("是") == SOUND.keys("四")  # sh/s folded
    assert SOUND.keys("应") == SOUND.keys("因")  # ing/in folded
    assert SOUND.keys("再见") != SOUND.keys("再来")


def test_a_forbidden_phrase_is_found_where_it_was_said_with_its_offsets() -> None:
    found = find("我也没办法", "好的先生", "这个 我也 没 辦法 啊")
    assert found == [(1, 2, 7, "我也没办法")]


def test_one_dropped_or_extra_character_is_tolerated_in_a_longer_phrase() -> None:
    assert find("我也没办法", "这个我也没有办法")[0][3] == "我也没有办法"
    assert find("请问您还有其他问题吗", "请问您还有他问题吗")[0][3] == "请问您还有他问题吗"
    assert find("不行就是不行这是规定", "不行就是不行这事规定")  # 事 for 是: a homophone


def test_a_negation_must_be_heard_so_the_opposite_is_never_found() -> None:
    assert find("我不知道", "好的我知道了") == []
    assert find("我也没办法", "我也有办法") == []


def test_a_short_phrase_needs_its_first_and_last_character() -> None:
    assert find("我不知道", "您不知道户号也没关系") == []
    assert find("我不知道", "这个我不知道啊") == [(0, 2, 6, "我不知道")]


def test_a_character_heard_as_an_unrelated_sound_is_another_word_in_a_short_phrase() -> None:
    assert find("不归我们管", "这个不是我们管的范围") == []
    assert find("不归我们管", "这个不规我们管") != []  # 规 is a homophone of 归


def test_an_exact_phrase_and_its_exceptions() -> None:
    assert find("去死", "你去死吧", exact=True, unless=("去世",)) == [(0, 1, 3, "去死")]
    assert find("去死", "户主去世了", exact=True, unless=("去世",)) == []
    assert find("滚", "你给我滚", exact=True) == [(0, 3, 4, "滚")]


def test_an_agents_number_is_heard_however_each_digit_came_out() -> None:
    def heard(number: str, text: str) -> bool:
        return number_heard(number, SOUND.digits(SOUND.keys(text)))

    assert heard("1023", "您好 我是 幺零两三号")
    assert heard("1023", "我是 要 灵 二 山 号")  # homophones of the digits
    assert heard("1023", "工号1023")
    assert heard("1023", "我是幺零哈三号")  # one digit garbled into a non-digit
    assert not heard("1023", "我是幺零两四号")  # another number
    assert not heard("1023", "您好燃气客服中心")


def test_a_one_character_insult_is_heard_by_sound_but_not_inside_an_everyday_word() -> None:
    assert find("滚", "棍 别 再 打 过来 了", unless=("滚烫",)) == [(0, 0, 1, "棍")]
    assert find("滚", "热水器 出来 的 水 是不是 滚烫 的", unless=("滚烫",)) == []


def test_a_rules_own_table_can_allow_more_edits_for_long_phrases() -> None:
    heard = "我们班了明天斋制吧"  # 下 dropped, 再 as 斋, 打 as 制
    assert find("下班了明天再打", heard) == []
    table = ((1, 0), (3, 1), (7, 2))
    ((_, start, end, text),) = find("下班了明天再打", heard, edits_by_len=table)
    assert "班了明天斋" in text and heard[start:end] == text


def test_a_misheard_particle_costs_half_an_edit_but_a_misheard_content_word_does_not() -> None:
    assert find("着什么急", "着什曾急啊排队呢") != []  # 么 (a particle) heard as anything
    assert find("着什么急", "您别着急") == []  # 什么 both dropped: another phrase
    assert find("不归我们管", "这个不是我们管的范围") == []  # 归 is what the phrase says


def test_two_near_sounds_count_as_one_edit() -> None:
    assert find("你到底想怎么样", "你到低想怎么阳") != []  # 底/低 same key; 样 as 阳 near


def test_a_negation_may_be_heard_as_another_negation_but_not_as_nothing() -> None:
    assert find("我也没办法", "公司这么安排的我也不办法") != []
    assert find("我也没办法", "我也有办法") == []


def test_a_kept_end_may_be_a_near_sound_in_a_four_character_phrase_only() -> None:
    assert find("脑子有病", "你妮子嗯有并啊") != []  # 脑 heard as 妮 (n/l), 嗯 inserted
    assert find("傻逼", "工单号是七四八八") == []  # 四八 is near 傻逼 at both ends: no


def review(phrase: str, *texts: str, **spec: Any) -> list[tuple[str, float, bool]]:
    """What the matcher finds with the review tier on: (heard, edits, needs review)."""
    phrases = PhraseSet([PhraseSpec("g", phrase, **spec)], SOUND, TOLERANCE)
    doc = Doc.of([normalize(t) for t in texts], SOUND)
    return [(s.text, s.edits, s.review) for s in phrases.find(doc)]


def test_the_review_tier_finds_a_garbled_phrase_for_review_only() -> None:
    tier: dict[str, Any] = {"review_extra": 1, "review_subs": True}
    assert review("脑子有病", "你子病啊") == []  # 脑 and 有 lost: beyond the tolerance
    assert review("脑子有病", "你子病啊", **tier) == [("你子病", 1.5, True)]
    assert review("你有病吧", "你不病耙了", **tier) == [("你不病耙", 1.0, True)]  # 有 as 不
    assert review("脑子有病", "你脑子有病啊", **tier) == [("脑子有病", 0.0, False)]  # strict
    assert review("你有病吧", "请您先把家里水龙头关上", **tier, review_needs="病") == []


def test_a_review_tier_hears_the_characters_it_needs_in_their_place() -> None:
    tier: dict[str, Any] = {"review_extra": 1, "review_subs": True, "review_needs": "去死"}
    assert review("你怎么不去死", "你怎任不死", **tier) == [("你怎任不死", 1.5, True)]
    assert review("你怎么不去死", "你怎作补去", **tier) == [("你怎作补去", 1.5, True)]
    assert review("脑子进水", "自来水经司管", review_extra=1, review_subs=True) != []
    assert (
        review("脑子进水", "自来水经司管", review_extra=1, review_subs=True, review_needs="水")
        == []
    )


def test_a_review_tier_still_needs_every_negation_heard() -> None:
    tier: dict[str, Any] = {"review_extra": 1, "review_subs": True, "review_needs": "去死"}
    assert review("你怎么不去死", "办理拯数挂失", **tier) == []  # 不 heard as 数: no negation


def test_a_review_only_phrase_is_never_a_strict_span() -> None:
    tier: dict[str, Any] = {"review_extra": 1, "review_subs": True, "review_needs": "去死"}
    assert review("你怎么不去死", "你怎么不去物业问问") == [("你怎么不去", 1.0, False)]
    assert review("你怎么不去死", "你怎么不去死", **tier, review_only=True) == [
        ("你怎么不去死", 0.0, True)
    ]
