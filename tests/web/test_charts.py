"""Bar charts drawn on the server: scaled to the largest value or a given top, values
shown as formatted, missing ones as "—" with no bar, bad ones flagged, long names cut."""

from __future__ import annotations

from hotline.web.charts import LABEL_W, VALUE_W, WIDTH, bar_chart

PLOT = WIDTH - LABEL_W - VALUE_W


def test_bars_are_scaled_and_flagged() -> None:
    c = bar_chart(
        "各队列三声内接通率",
        [("hotline", 50.0), ("投诉", 100.0), ("无数据", None)],
        fmt=lambda v: f"{v:.1f}%",
        top=100,
        bad=lambda v: v < 80,
    )
    hotline, complaints, none = c.bars
    assert hotline.width == PLOT / 2 and hotline.bad and hotline.text == "50.0%"
    assert complaints.width == PLOT and not complaints.bad
    assert none.width == 0 and none.text == "—" and not none.bad
    assert [b.y for b in c.bars] == [2, 28, 54] and c.height == 3 * 26 + 4


def test_largest_value_is_the_top_by_default_and_names_are_cut() -> None:
    c = bar_chart("x", [("一个非常非常非常长的责任单位名称", 2.0), ("b", 4.0), ("c", 0.0)])
    assert [b.width for b in c.bars] == [PLOT / 2, PLOT, 0]
    assert c.bars[0].label.endswith("…") and len(c.bars[0].label) == 12
    assert bar_chart("empty", []).bars == () and bar_chart("zero", [("a", 0.0)]).bars[0].width == 0
