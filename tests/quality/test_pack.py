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


def test_a_deployment_names_a_shipped_pack_or_gives_a_file() -> None:
    assert load_pack("highway").label == "highway@1"
    assert load_pack(Path("wuhan-gas")).label == "wuhan-gas@1"  # as the Path setting holds it
    assert load_pack(default_pack_path()).label == load_pack(None).label == "zh-CN-default@2"
    with pytest.raises(InvalidInput) as exc:
        load_pack("railway")
    assert "railway" in exc.value.message
    assert "zh-CN, bank, highway, transport-group, wuhan-gas" in exc.value.message


def test_a_hotline_pack_extends_a_shipped_one_and_changes_only_what_it_writes(
    tmp_path: Path,
) -> None:
    own = tmp_path / "own.yaml"
    own.write_text(
        "extends: highway\nid: my-highway\nversion: 3\norganisation: 某某高速\n"
        "rules:\n  forbidden_phrase:\n    phrases: [我不知道, 自己去查]\n"
        "  politeness:\n    words: [请, 您, 谢谢]\n",
        encoding="utf-8",
    )
    pack = load_pack(own)
    base = load_pack("highway")
    assert pack.label == "my-highway@3" and pack.config.organisation == "某某高速"
    assert pack.rules.forbidden_phrase and base.rules.forbidden_phrase
    assert [p.text for p in pack.rules.forbidden_phrase.phrases] == ["我不知道", "自己去查"]
    # what it did not write comes from the pack it extends
    assert pack.rules.forbidden_phrase.deduct == base.rules.forbidden_phrase.deduct
    assert pack.rules.greeting_missing == base.rules.greeting_missing
    assert pack.rules.politeness and [w.word for w in pack.rules.politeness.words] == [
        "请", "您", "谢谢",
    ]  # fmt: skip
    own.write_text("extends: railway\nid: x\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="extends: 'railway' is not a shipped pack"):
        load_pack(own)


def test_a_pack_that_still_sets_the_ring_limit_is_told_where_it_lives(tmp_path: Path) -> None:
    def edit(data: dict) -> None:  # type: ignore[type-arg]
        data["rules"]["answer_late"]["max_rings"] = 4

    with pytest.raises(InvalidInput, match=r"answer_late.*\[rules\] ring_period_s and max_rings"):
        load_pack(copy_of_default(tmp_path, edit))


def test_a_greeting_script_names_the_agent_number_place_at_most_once(tmp_path: Path) -> None:
    def edit(data: dict) -> None:  # type: ignore[type-arg]
        data["rules"]["greeting_missing"]["scripts"] = ["您好{工号}号{工号}"]

    with pytest.raises(InvalidInput, match=r"greeting_missing.*\{工号\} at most once"):
        load_pack(copy_of_default(tmp_path, edit))


def test_the_speech_rate_band_is_one_setting_around_the_regulations_figure() -> None:
    band = load_pack().config.speech_rate
    assert (band.target_per_min, band.low, band.high, band.min_speech_s) == (120, 90, 150, 10)
    assert load_pack("highway").config.speech_rate.high == 145


def test_the_deploy_sample_names_a_shipped_pack() -> None:
    import tomllib

    sample = Path(__file__).resolve().parents[2] / "deploy" / "hotline.toml"
    settings = tomllib.loads(sample.read_text(encoding="utf-8"))
    assert load_pack(settings["quality"]["pack"]).label == "zh-CN-default@2"


def test_a_copy_of_the_old_pack_is_told_where_its_settings_moved(tmp_path: Path) -> None:
    def old_politeness(data: dict) -> None:  # type: ignore[type-arg]
        data["rules"]["politeness"] = {"deduct": 5, "please": ["请"], "honorific": ["您"],
                                       "goodbyes": ["再见"]}  # fmt: skip

    with pytest.raises(InvalidInput, match=r"politeness.*one list `words`"):
        load_pack(copy_of_default(tmp_path, old_politeness))

    def old_rate(data: dict) -> None:  # type: ignore[type-arg]
        data["rules"]["speech_rate_fast"]["max_per_min"] = 180

    with pytest.raises(InvalidInput, match=r"speech_rate_fast.*speech_rate section"):
        load_pack(copy_of_default(tmp_path, old_rate))
