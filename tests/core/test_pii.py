"""Masking personal data (issue 13): what an agent or an inspector sees of a caller's
number, 户号, ID number and address, as pure functions over plain records."""

from __future__ import annotations

import pytest

from hotline.core import pii


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("13800138000", "138****8000"),
        ("+86 138-0013-8000", "861****8000"),
        ("075512345678", "075****5678"),
        ("87654321", "****4321"),
        ("95598", "95598"),  # a service number is no one's
        ("", ""),
    ],
)
def test_phone_numbers_keep_their_ends(given: str, shown: str) -> None:
    assert pii.mask_phone(given) == shown


def test_account_id_and_address() -> None:
    assert pii.mask_account("0012345678") == "******5678"
    assert pii.mask_id("11010119900307123X") == "110***********123X"
    assert pii.mask_address("幸福路12号3单元501") == "幸福路1****"
    assert pii.mask_address("北京") == "****"


def test_free_text_loses_its_numbers_but_keeps_its_words() -> None:
    said = "我的户号是0012345678，电话13800138000，身份证110101199003071234，燃气泄漏了"
    masked = pii.mask_text(said)
    assert "0012345678" not in masked and "13800138000" not in masked
    assert "110101199003071234" not in masked and "110***********1234" in masked
    assert "138****8000" in masked and masked.endswith("燃气泄漏了")
    assert pii.mask_text("2024-11-25 10:00 第3次回访") == "2024-11-25 10:00 第3次回访"
    assert pii.mask_text("请拨0755-12345678或138 0013 8000.") == "请拨075****5678或138****8000."


def test_a_ticket_record_is_masked_by_field_kind_and_key() -> None:
    record = {
        "id": 7,
        "call_id": "1732500000.12",  # not a phone number: not touched
        "caller_number": "13800138000",
        "summary": "客户13900139000反映幸福路12号燃气泄漏",
        "fields": [
            {"kind": "phone", "value": "13900139000", "evidence": {"text": "打13900139000"}},
            {"kind": "account", "value": "0012345678", "evidence": {"text": "户号0012345678"}},
            {"kind": "address", "value": "幸福路12号3单元501", "evidence": {"text": "幸福路"}},
            {"kind": "datetime", "value": "2024-11-25T10:00:00", "evidence": {"text": "明天"}},
        ],
        "items": [{"number": "13700137000", "agent": "PJSIP/1001"}],
    }
    out = pii.mask_tree(record)
    assert out["call_id"] == "1732500000.12" and out["id"] == 7
    assert out["caller_number"] == "138****8000"
    assert "13900139000" not in out["summary"]
    assert [f["value"] for f in out["fields"]] == [
        "139****9000",
        "******5678",
        "幸福路1****",
        "2024-11-25T10:00:00",
    ]
    assert out["fields"][0]["evidence"]["text"] == "打139****9000"
    assert out["items"] == [{"number": "137****7000", "agent": "PJSIP/1001"}]
    assert record["caller_number"] == "13800138000"  # the record itself is left alone


def test_who_sees_it_whole_is_a_setting() -> None:
    assert pii.sees_whole("supervisor", ("supervisor", "admin"))
    assert not pii.sees_whole("agent", ("supervisor", "admin"))
    assert pii.sees_whole("agent", ("agent",))


def test_masking_twice_changes_nothing_more() -> None:
    for f, v in [
        (pii.mask_phone, "13800138000"),
        (pii.mask_account, "0012345678"),
        (pii.mask_id, "110101199003071234"),
        (pii.mask_address, "幸福路12号3单元501"),
        (pii.mask_text, "电话13800138000，户号0012345678"),
    ]:
        assert f(f(v)) == f(v)
