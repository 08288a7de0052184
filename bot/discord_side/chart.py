"""The stats chart as a PNG: points per day above, each day's outcomes stacked below.

Matplotlib is imported only when a chart is drawn, so the bot starts without it in memory.
Every word drawn comes from the caller's labels, already translated; dates are drawn as
numbers (MM-DD), never month names.
"""

from __future__ import annotations

import asyncio
import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.stats import Day

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ChartLabels", "chart_png", "draw_chart"]

# About 1000x500 px: wide enough for a year of bars, still legible when a phone scales it.
WIDTH_INCHES = 10.0
HEIGHT_INCHES = 5.0
DPI = 100
# More date labels than this run into each other.
MAX_TICK_LABELS = 10
# Of a day's width: the gaps keep neighbouring days apart.
BAR_WIDTH = 0.8

POINTS_COLOUR = "#1f6fb2"
COMPLETED_COLOUR = "#2e9d4f"
FAILED_COLOUR = "#d64541"
MISSED_COLOUR = "#e07b00"
GRID_COLOUR = "#dddddd"
# Sizes in points: a phone shows the image at about half its width.
TITLE_SIZE = 16
TEXT_SIZE = 12


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """The words of the chart, in the reader's language."""

    title: str
    points: str
    completed: str
    failed: str
    missed: str


def draw_chart(days: list[Day], labels: ChartLabels) -> bytes:
    """The chart of `days` as PNG bytes; CPU-bound, so async code calls `chart_png`."""
    # Figure and the Agg canvas directly, not pyplot: no global figure list or backend
    # switch, so one figure per call is safe from a worker thread.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="tight")
    # Attaching the canvas makes savefig render with Agg, whatever the default backend.
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))

    points = [day.points for day in days]
    completed = [day.completed for day in days]
    failed = [day.failed for day in days]
    missed = [day.missed for day in days]
    missed_bottoms = [c + f for c, f in zip(completed, failed, strict=True)]
    totals = [below + m for below, m in zip(missed_bottoms, missed, strict=True)]
    _bars(top, [0] * len(days), points, POINTS_COLOUR, labels.points)
    _bars(bottom, [0] * len(days), completed, COMPLETED_COLOUR, labels.completed)
    _bars(bottom, completed, failed, FAILED_COLOUR, labels.failed)
    _bars(bottom, missed_bottoms, missed, MISSED_COLOUR, labels.missed)
    top.set_title(labels.title, fontsize=TITLE_SIZE)
    top.set_ylabel(labels.points, fontsize=TEXT_SIZE)
    # A tuple places the legend's corner just above the lower axes, clear of the bars.
    bottom.legend(loc=(0.0, 1.0), ncols=3, frameon=False, fontsize=TEXT_SIZE, borderaxespad=0.2)

    tallest = (max(points, default=0), max(totals, default=0))
    for axes, peak in zip((top, bottom), tallest, strict=True):
        axes.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        # Limits set here, not found from the bars: an empty period still has its days.
        axes.set_ylim(0, max(peak, 1) * 1.05)
        axes.set_xlim(-0.6, len(days) - 0.4)
        axes.grid(axis="y", color=GRID_COLOUR, linewidth=0.8)
        axes.set_axisbelow(True)
        axes.spines[["top", "right"]].set_visible(False)
        axes.tick_params(labelsize=TEXT_SIZE)

    # Counted back from today, so the latest day always has its date.
    step = max(1, math.ceil(len(days) / MAX_TICK_LABELS))
    ticks = list(range(len(days) - 1, -1, -step))[::-1]
    bottom.set_xticks(ticks, [f"{days[i].date:%m-%d}" for i in ticks])

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _bars(axes: Axes, bottoms: list[int], heights: list[int], colour: str, label: str) -> None:
    """One bar a day as a single collection: a year of Rectangle patches takes a second to
    draw, this a fraction of it."""
    from matplotlib.collections import PolyCollection

    half = BAR_WIDTH / 2
    shapes = [
        ((x - half, low), (x - half, low + height), (x + half, low + height), (x + half, low))
        for x, (low, height) in enumerate(zip(bottoms, heights, strict=True))
        if height
    ]
    axes.add_collection(
        PolyCollection(shapes, facecolors=colour, linewidths=0, label=label), autolim=False
    )


async def chart_png(days: list[Day], labels: ChartLabels) -> bytes:
    """`draw_chart` in a worker thread, so the event loop goes on meanwhile."""
    return await asyncio.to_thread(draw_chart, days, labels)
