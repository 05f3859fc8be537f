"""normalize(): Vosk's Chinese text for reading and search. Pure, no model needed."""

from __future__ import annotations

import pytest

from hotline.asr.transcript import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Vosk's Chinese models put a space between words
        ("请问 您 还有 其他 问题 吗", "请问您还有其他问题吗"),
        ("您好 我 是 客服 中心 一零零一 号 客服 代表", "您好我是客服中心一零零一号客服代表"),
        # traditional -> simplified (OpenCC t2s)
        ("請問您還有其他問題嗎", "请问您还有其他问题吗"),
        ("請問 您 還有 其他 問題 嗎", "请问您还有其他问题吗"),
        ("這 不 關 我 的 事", "这不关我的事"),
        ("頭髮 乾淨", "头发干净"),  # phrase-aware: 髮 -> 发, 乾 -> 干
        # Latin and digits: a space stays between two of them, none next to Chinese
        ("打 电话 给 10086", "打电话给10086"),
        ("工单 号 ID 12345 已 受理", "工单号ID 12345已受理"),
        ("iPhone 手机 坏 了", "iPhone手机坏了"),
        ("my gas meter is broken", "my gas meter is broken"),
        # other scripts keep their spaces (the Korean test model)
        ("안녕하세요 고객센터입니다", "안녕하세요 고객센터입니다"),
        # whitespace
        ("  再见  ", "再见"),
        ("\t请 \n 稍等 ", "请稍等"),
        ("a  b", "a b"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_simplified_text_is_unchanged() -> None:
    text = "您好！我是客服中心一零零一号客服代表，请问有什么可以帮到您？再见。"
    assert normalize(text) == text


def test_idempotent() -> None:
    once = normalize("請問 您 還有 其他 問題 嗎 ID 42")
    assert normalize(once) == once
