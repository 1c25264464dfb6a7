"""The accuracy-against-reasoning-tokens picture, with 95% intervals on both axes.

One line per (mode or model, suite), one point per effort. matplotlib is optional
(`pip install 'thinkgate[plot]'`): without it `draw` raises `PlotUnavailable`, and the
callers print the table alone and say why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Z95 = 1.959964


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def wilson(correct: int, items: int) -> tuple[float, float]:
    """95% Wilson interval of a proportion (sound at 0% and 100%, unlike the normal one)."""
    if items == 0:
        return 0.0, 0.0
    p = correct / items
    centre = (p + Z95**2 / (2 * items)) / (1 + Z95**2 / items)
    half = Z95 * math.sqrt(p * (1 - p) / items + Z95**2 / (4 * items**2)) / (1 + Z95**2 / items)
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and its 95% normal interval, floored at 0 (token counts)."""
    n = len(values)
    if n == 0:
        return 0.0, 0.0, 0.0
    mean = sum(values) / n
    if n == 1:
        return mean, mean, mean
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = Z95 * sd / math.sqrt(n)
    return mean, max(0.0, mean - half), mean + half


@dataclass(slots=True, frozen=True)
class Point:
    label: str  # the effort
    correct: Sequence[bool]
    tokens: Sequence[float]

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / len(self.correct) if self.correct else 0.0


@dataclass(slots=True, frozen=True)
class Line:
    label: str  # "adaptive · easy"
    points: Sequence[Point]
    dashed: bool = False
    group: str = ""  # lines of one group (a suite) share a colour


def draw(lines: Sequence[Line], stem: Path, *, title: str) -> list[Path]:
    """`stem`.png and `stem`.svg; returns their paths."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable(
            "the picture needs matplotlib: pip install 'thinkgate[plot]'"
        ) from exc
    figure, axes = plt.subplots(figsize=(8, 5.5))
    groups = list(dict.fromkeys(line.group or line.label for line in lines))
    for line in lines:
        colour = f"C{groups.index(line.group or line.label) % 10}"
        xs: list[float] = []
        ys: list[float] = []
        xerr: list[list[float]] = [[], []]
        yerr: list[list[float]] = [[], []]
        for point in line.points:
            mean, low, high = mean_interval(list(point.tokens))
            lo, hi = wilson(sum(point.correct), len(point.correct))
            xs.append(mean)
            ys.append(100 * point.accuracy)
            xerr[0].append(mean - low)
            xerr[1].append(high - mean)
            yerr[0].append(100 * (point.accuracy - lo))
            yerr[1].append(100 * (hi - point.accuracy))
        style = "--" if line.dashed else "-"
        drawn = axes.errorbar(
            xs,
            ys,
            xerr=xerr,
            yerr=yerr,
            fmt="o" + style,
            capsize=3,
            label=line.label,
            color=colour,
            alpha=0.85,
        )
        for x, y, point in zip(xs, ys, line.points, strict=True):
            axes.annotate(
                point.label,
                (x, y),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7,
                color=drawn[0].get_color(),
            )
    axes.set_xscale("symlog", linthresh=10)
    axes.set_xlim(left=0)
    axes.set_xlabel("reasoning tokens per item (mean, 95% interval)")
    axes.set_ylabel("accuracy % (95% Wilson interval)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=120, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(figure)
    return paths
