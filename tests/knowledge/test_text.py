"""The sound grams: an article's words and a caller's words meet however the recogniser
wrote them (homophones, near-homophones of a southern accent, traditional characters)."""

from __future__ import annotations

from hotline.knowledge.text import fold, grams, split_keywords


def test_near_homophones_fold_to_one_sound() -> None:
    assert fold("zhang") == fold("zan") == "zan"
    assert fold("ran") == fold("lan") and fold("fei") == fold("hei")
    assert fold("qing") == fold("qin")


def test_homophones_and_traditional_characters_give_the_same_grams() -> None:
    assert grams("充值") == grams("冲值") == grams("沖值") == {"cong-zi"}
    assert grams("燃气") == grams("燃氣") == grams("然气")
    assert "zen-me" not in grams("怎么充值")  # talk that says nothing about the question
    assert grams("卡里，没钱") == {"ka-li", "mei-qian"}  # punctuation splits the run
    assert grams("卡里 没 钱") == {"ka-li", "li-mei", "mei-qian"}  # Vosk's spaces do not


def test_keywords_are_split_on_chinese_and_latin_separators() -> None:
    assert split_keywords("欠费，停气;IC卡  充值、欠费") == ["欠费", "停气", "IC卡", "充值"]
