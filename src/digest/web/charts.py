"""The desk's charts as geometry for inline SVG: bars and lines in a fixed viewBox.

No script and no library: the page draws these rectangles and lines, the SVG scales with the
page (375 px or 1280 px wide), and a table beside each chart carries the same numbers for
screen readers and for anyone who wants the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from digest.stats import COMPLAINT_LINES, GrowthWeek, IssueFigures

WIDTH, HEIGHT = 640, 240  # the viewBox; the page scales it
LEFT, BOTTOM, TOP = 48, 28, 12  # room for the axis labels
SERIES = (  # the growth chart's measures: field, label, CSS class (colour and pattern)
    ("confirmed", "New confirmations", "s-confirmed"),
    ("unsubscribed", "Unsubscribes", "s-unsubscribed"),
    ("bounced", "Bounces", "s-bounced"),
    ("complained", "Complaints", "s-complained"),
)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    label: str  # the bar's own tooltip (<title>)


@dataclass(frozen=True)
class Rule:
    y: float
    label: str
    css: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    rules: list[Rule]  # horizontal lines: the scale's top, or Gmail's complaint limits
    ticks: list[Tick]  # labels under the groups
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM
    left: float = LEFT


def _scale(top: float) -> float:
    return (HEIGHT - BOTTOM - TOP) / top if top > 0 else 0.0


def growth_chart(weeks: Sequence[GrowthWeek]) -> Chart:
    """Four bars a week, one per measure; the top rule says the scale."""
    top = max([getattr(w, field) for w in weeks for field, _, _ in SERIES] + [1])
    unit = _scale(top)
    group = (WIDTH - LEFT) / max(len(weeks), 1)
    bar = group * 0.8 / len(SERIES)
    bars, ticks = [], []
    for n, week in enumerate(weeks):
        x0 = LEFT + n * group + group * 0.1
        for k, (field, label, css) in enumerate(SERIES):
            value = getattr(week, field)
            height = value * unit
            bars.append(
                Bar(
                    x0 + k * bar,
                    HEIGHT - BOTTOM - height,
                    bar,
                    height,
                    css,
                    f"{label}, week of {week.starts:%d %b}: {value}",
                )
            )
        if len(weeks) <= 6 or (len(weeks) - 1 - n) % 2 == 0:  # every other week, ending on now's
            ticks.append(Tick(x0 + group * 0.4, f"{week.starts:%d %b}"))
    rules = [Rule(HEIGHT - BOTTOM - top * unit, str(top), "r-scale")]
    return Chart(bars=bars, rules=rules, ticks=ticks)


def rate_chart(figures: Sequence[IssueFigures]) -> Chart:
    """Bounce and complaint rates per issue, oldest first, against Gmail's 0.1% and 0.3% lines."""
    ordered = sorted(figures, key=lambda f: f.number)
    rates = [r for f in ordered for r in (f.bounce_rate, f.complaint_rate)]
    top = max([*rates, COMPLAINT_LINES[-1] * 1.25])
    unit = _scale(top)
    group = (WIDTH - LEFT) / max(len(ordered), 1)
    bar = group * 0.8 / 2
    bars, ticks = [], []
    for n, issue in enumerate(ordered):
        x0 = LEFT + n * group + group * 0.1
        for k, (rate, label, css) in enumerate(
            (
                (issue.bounce_rate, "Bounce rate", "s-bounced"),
                (issue.complaint_rate, "Complaint rate", "s-complained"),
            )
        ):
            height = rate * unit
            bars.append(
                Bar(
                    x0 + k * bar,
                    HEIGHT - BOTTOM - height,
                    bar,
                    height,
                    css,
                    f"{label}, issue #{issue.number}: {percent(rate)}",
                )
            )
        ticks.append(Tick(x0 + group * 0.4, f"#{issue.number}"))
    rules = [
        Rule(HEIGHT - BOTTOM - line * unit, f"{percent(line)} Gmail", f"r-limit-{k}")
        for k, line in enumerate(COMPLAINT_LINES)
    ]
    return Chart(bars=bars, rules=rules, ticks=ticks)


def percent(rate: float) -> str:
    """0.0012 -> "0.12%"; small rates keep two decimals, because 0.1% is the line that matters."""
    return f"{rate * 100:.2f}%"
