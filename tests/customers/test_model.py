"""The customer file's pure rules: one number is one number however it is written, a 户号
said in Chinese digits is found, an import row is taken or rejected with its reason, and
the identity policy decides which details count."""

from __future__ import annotations

import pytest

from hotline.core.errors import InvalidInput
from hotline.customers.model import (
    CustomerIn,
    IdentityPolicy,
    LinkSource,
    candidates,
    masked_name,
    phone_key,
    spoken_accounts,
)
from hotline.customers.sheet import Header
from tests.customers.factories import customer


def test_a_number_is_the_same_however_the_caller_id_writes_it() -> None:
    assert phone_key("+86 138-0013-8000") == "13800138000"
    assert phone_key("008613800138000") == "13800138000"
    assert phone_key("8613800138000") == "13800138000"
    assert phone_key("0571-87654321") == "057187654321"
    assert phone_key("anonymous") == ""


def test_an_account_number_said_in_chinese_digits_is_found() -> None:
    said = ["我的户号是幺零零 二三四 五六七", "电话是一三八零零一三八零零零", "好的"]
    assert spoken_accounts(said) == ["100234567", "13800138000"]
    assert spoken_accounts(["我家停气了"]) == []
    assert spoken_accounts(["户号1002 3456，再说一遍1002-3456"]) == ["10023456"]


def test_the_header_says_which_columns_were_expected() -> None:
    with pytest.raises(InvalidInput) as exc:
        Header.read(["编号", "客户", "地址"])
    message = exc.value.message
    assert "缺少户号、姓名、电话" in message and "必需列：户号、姓名、地址、电话" in message
    assert "文件中的列：编号、客户、地址" in message
    header = Header.read(["\ufeff户号", "户名", "用气地址", "联系电话", "区县"])
    assert header.row(
        ["100001", "张三", "西湖区文三路1号", "13800138000;0571-88886666", "西湖区"]
    ) == (
        CustomerIn("100001", "张三", "西湖区文三路1号", ("13800138000", "057188886666"), "西湖区")
    )


def test_a_bad_row_is_rejected_with_its_reason() -> None:
    header = Header.read(["account_no", "name", "address", "phones"])
    assert "户号" in str(header.row(["1", "张三", "某路1号", ""]))
    assert "姓名为空" in str(header.row(["100002", " ", "某路1号", ""]))
    assert "电话号码「12」不对" in str(header.row(["100003", "李四", "某路2号", "12"]))
    assert header.row([100004.0, "王五", "某路3号", 13800138000.0]) == CustomerIn(
        "100004", "王五", "某路3号", ("13800138000",)
    )  # number cells of a spreadsheet


def test_a_spoken_account_comes_before_the_customers_of_the_number() -> None:
    a, b = customer(1, "100001"), customer(2, "100002")
    found = candidates([a, b], [b])
    assert [(c.customer.id, c.source) for c in found] == [
        (2, LinkSource.SPOKEN),
        (1, LinkSource.NUMBER),
    ]


def test_the_policy_says_which_details_count() -> None:
    policy = IdentityPolicy(("name", "address", "account_no"), 2)
    assert policy.judge(["address", "name"], could_not=False) == (True, ("name", "address"))
    assert policy.judge(["name"], could_not=False) == (False, ("name",))
    assert policy.judge(["name", "address"], could_not=True) == (False, ("name", "address"))
    with pytest.raises(InvalidInput, match="id_last4"):
        policy.judge(["name", "id_last4"], could_not=False)  # not a detail of this policy
    with pytest.raises(ValueError):
        IdentityPolicy(("name",), 2)


def test_the_name_is_masked_before_the_check() -> None:
    assert masked_name("张三丰") == "张**" and masked_name("李") == "李*"


def test_a_check_counts_only_for_the_customer_it_was_made_for() -> None:
    from hotline.customers.desk import CallCustomer
    from hotline.customers.model import IdentityCheck
    from tests.customers.factories import T0

    zhang, shop = customer(1, "100001"), customer(2, "100002")
    passed_for_shop = IdentityCheck(1, "1.1", shop.id, "wang", T0, True, ("name", "address"), None)
    failed_for_zhang = IdentityCheck(2, "1.1", zhang.id, "wang", T0, False, ("name",), None)
    # the agent corrected the link to 张三 after checking the shop's owner: not verified
    state = CallCustomer("1.1", None, zhang, (), (passed_for_shop, failed_for_zhang))
    assert not state.verified
    assert CallCustomer("1.1", None, shop, (), (passed_for_shop,)).verified
    assert not CallCustomer("1.1", None, None, (), (passed_for_shop,)).verified
