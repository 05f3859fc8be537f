"""Simple bar charts drawn on the server as inline SVG. Rule: pure geometry from numbers a
report already has; the template only draws the rectangles and texts computed here (no
chart library, no client code), and the table next to it stays the data of record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

ROW = 26  # px per bar
LABEL_W = 150  # px for the names at the left
VALUE_W = 70  # px for the figure after each bar
WIDTH = 560


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    text: str  # the value as shown
    y: int
    width: float  # the bar's length in px (0 when there is no value)
    bad: bool


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    width: int = WIDTH
    row: int = ROW
    label_w: int = LABEL_W
    value_w: int = VALUE_W

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * self.row + 4

    @property
    def plot_w(self) -> int:
        return self.width - self.label_w - self.value_w


def _plain(value: float) -> str:
    return f"{value:g}"


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float | None]],
    *,
    fmt: Callable[[float], str] = _plain,
    top: float | None = None,
    bad: Callable[[float], bool] = lambda _: False,
    limit: int = 20,
) -> BarChart:
    """Horizontal bars of `items` (label, value; None shows as "—"), scaled to `top` (by
    default the largest value); at most `limit` bars, in the order given."""
    shown = list(items)[:limit]
    values = [v for _, v in shown if v is not None]
    scale = top if top is not None else max(values, default=0.0)
    plot = WIDTH - LABEL_W - VALUE_W
    bars = []
    for i, (label, value) in enumerate(shown):
        length = 0.0 if value is None or scale <= 0 else plot * min(value, scale) / scale
        bars.append(
            Bar(
                label=label if len(label) <= 12 else label[:11] + "…",
                text="—" if value is None else fmt(value),
                y=i * ROW + 2,
                width=round(max(length, 0.0), 1),
                bad=value is not None and bad(value),
            )
        )
    return BarChart(title, tuple(bars))
