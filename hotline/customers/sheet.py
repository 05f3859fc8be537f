"""The columns of a customer import and the reading of one row. Rule: pure; a header is
matched by its Chinese or English name, and a row either becomes a `CustomerIn` or a reason
in Chinese that says what was wrong with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hotline.core.errors import InvalidInput
from hotline.customers.model import CustomerIn, split_phones

# field -> the header names it is known by (first: the one to use in a template)
COLUMNS: dict[str, tuple[str, ...]] = {
    "account_no": ("户号", "用户号", "客户编号", "account_no"),
    "name": ("姓名", "户名", "客户名称", "name"),
    "address": ("地址", "用气地址", "用水地址", "address"),
    "phones": ("电话", "联系电话", "手机", "phones", "phone"),
    "district": ("区县", "区", "行政区", "district"),
    "street": ("街道", "street"),
}
REQUIRED = ("account_no", "name", "address", "phones")


def expected() -> str:
    need = "、".join(COLUMNS[f][0] for f in REQUIRED)
    optional = "、".join(COLUMNS[f][0] for f in COLUMNS if f not in REQUIRED)
    return f"必需列：{need}；可选列：{optional}"


@dataclass(frozen=True, slots=True)
class Header:
    """Where each known field is in a row."""

    index: dict[str, int]

    @classmethod
    def read(cls, cells: Sequence[object]) -> Header:
        names = [str(c).strip().lstrip("\ufeff") if c is not None else "" for c in cells]
        index: dict[str, int] = {}
        for field, aliases in COLUMNS.items():
            folded = {a.casefold() for a in aliases}
            for i, name in enumerate(names):
                if name.casefold() in folded and field not in index:
                    index[field] = i
        missing = [COLUMNS[f][0] for f in REQUIRED if f not in index]
        if missing:
            found = "、".join(n for n in names if n) or "（空）"
            raise InvalidInput(
                f"导入文件的列不对：缺少{'、'.join(missing)}。{expected()}；文件中的列：{found}。"
                "请改好表头后重新上传 (wrong columns)",
                error_id="import_columns",
            )
        return cls(index)

    def row(self, cells: Sequence[object]) -> CustomerIn | str:
        """The customer of one data row, or why it is rejected."""

        def cell(field: str) -> str:
            i = self.index.get(field)
            if i is None or i >= len(cells) or cells[i] is None:
                return ""
            value = cells[i]
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # a number cell of a spreadsheet
            return str(value).strip()

        try:
            return CustomerIn.make(
                cell("account_no"),
                cell("name"),
                cell("address"),
                split_phones(cell("phones")),
                cell("district"),
                cell("street"),
            )
        except InvalidInput as exc:
            return exc.message
