"""Rule packs: the default pack loads whole, a hotline's copy can change what it names, and
a broken file is refused with the file, the rule and the field named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hotline.core.errors import InvalidInput
from hotline.quality.pack import RULE_IDS, default_pack_path, load_pack


def copy_of_default(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(default_pack_path().read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "hotline-pack.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_default_pack_holds_every_rule_with_the_documented_settings() -> None:
    pack = load_pack()
    assert pack.label == "zh-CN-default@2"
    assert all(getattr(pack.rules, rule_id) is not None for rule_id in RULE_IDS)
    assert pack.config.organisation == "燃气客服中心"
    assert pack.config.review_below_conf == 0.6
    rules = pack.rules
    assert rules.greeting_missing and rules.greeting_missing.window_s == 15
    assert rules.closing_missing and rules.closing_missing.window_s == 30
    assert rules.abusive_language and rules.abusive_language.instant_fail
    assert rules.answer_late and set(type(rules.answer_late).model_fields) == {
        "enabled", "deduct", "instant_fail",
    }  # fmt: skip  # the ring limit is the settings' alone
    assert [pack.band(s) for s in (100, 90, 89.9, 80, 60, 59.9, 0)] == [
        "优秀", "优秀", "良好", "良好", "合格", "不合格", "不合格",
    ]  # fmt: skip
    assert pack.lowest_band == "不合格"


def test_a_hotline_copy_with_its_own_organisation_and_deductions_loads(tmp_path: Path) -> None:
    def edit(data: dict) -> None:  # type: ignore[type-arg]
        data["organisation"] = "自来水热线"
        data["rules"]["forbidden_phrase"]["deduct"] = 20
        data["rules"]["silence_long"]["enabled"] = False
        del data["rules"]["speech_rate_slow"]

    pack = load_pack(copy_of_default(tmp_path, edit))
    assert pack.config.organisation == "自来水热线"
    assert pack.rules.forbidden_phrase and pack.rules.forbidden_phrase.deduct == 20
    assert pack.rules.silence_long and not pack.rules.silence_long.enabled
    assert pack.rules.speech_rate_slow is None


def test_a_bad_field_is_named_with_its_file_and_rule(tmp_path: Path) -> None:
    def edit(data: dict) -> None:  # type: ignore[type-arg]
        data["rules"]["forbidden_phrase"]["deduct"] = "fifteen"

    path = copy_of_default(tmp_path, edit)
    with pytest.raises(InvalidInput) as exc:
        load_pack(path)
    message = exc.value.message
    assert str(path) in message
    assert "规则 forbidden_phrase 的字段 deduct" in message
    assert "rule forbidden_phrase, field deduct" in message


def test_an_unknown_rule_id_is_refused(tmp_path: Path) -> None:
    def edit(data: dict) -> None:  # type: ignore[type-arg]
        data["rules"]["greeting_mising"] = {"deduct": 5}

    with pytest.raises(InvalidInput, match="unknown rule id 'greeting_mising'"):
        load_pack(copy_of_default(tmp_path, edit))


def test_an_empty_phrase_list_and_a_band_table_without_zero_are_refused(tmp_path: Path) -> None:
    def no_phrases(data: dict) -> None:  # type: ignore[type-arg]
        data["rules"]["abusive_language"]["phrases"] = []

    with pytest.raises(InvalidInput, match=r"abusive_language.*phrases"):
        load_pack(copy_of_default(tmp_path, no_phrases))

    def no_zero(data: dict) -> None:  # type: ignore[type-arg]
        data["bands"] = [{"label": "好", "min": 60}]

    with pytest.raises(InvalidInput, match=r"field bands.*min: 0"):
        load_pack(copy_of_default(tmp_path, no_zero))


def test_a_file_that_is_not_yaml_or_not_there_says_so(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nrules: [unclosed\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="不是有效的 YAML"):
        load_pack(broken)
    with pytest.raises(InvalidInput, match="无法读取质检规则包"):
        load_pack(tmp_path / "missing.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="must be a YAML mapping"):
        load_pack(listing)


def test_the_default_pack_reviews_garbled_abuse_and_forbidden_phrases() -> None:
    rules = load_pack().rules
    assert rules.abusive_language and rules.forbidden_phrase
    assert (rules.abusive_language.review_extra_edits, rules.abusive_language.review_subs) == (
        1,
        True,
    )
    assert (rules.forbidden_phrase.review_extra_edits, rules.forbidden_phrase.review_subs) == (
        0,
        True,
    )
    only = [p for p in rules.abusive_language.phrases if p.review_only]
    assert [(p.text, p.review_needs) for p in only] == [("你怎么不去死", "去死")]


def test_review_settings_that_could_never_match_are_refused(tmp_path: Path) -> None:
    def no_tier(data: dict) -> None:  # type: ignore[type-arg]
        data["rules"]["abusive_language"]["review_extra_edits"] = 0
        data["rules"]["abusive_language"]["review_subs"] = False

    with pytest.raises(InvalidInput, match=r"abusive_language.*review_only but has no review"):
        load_pack(copy_of_default(tmp_path, no_tier))

    def stray_need(data: dict) -> None:  # type: ignore[type-arg]
        data["rules"]["abusive_language"]["phrases"].append(
            {"text": "脑子进水", "review_needs": "病"}
        )

    with pytest.raises(InvalidInput, match=r"review_needs '病' not in the phrase"):
        load_pack(copy_of_default(tmp_path, stray_need))
