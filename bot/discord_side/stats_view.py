"""/stats in words, and the words of its chart."""

from __future__ import annotations

from bot.core.errors import Person
from bot.core.report import StatsReport
from bot.discord_side.chart import ChartLabels
from bot.discord_side.voice import Voice

BAR_WIDTH = 10
FULL, EMPTY = "\N{BLACK SQUARE}", "\N{WHITE SQUARE}"  # ■ □


def stats_text(report: StatsReport, days: int, voice: Voice) -> str:
    stats = report.stats
    lines = [voice.text("stats.header", wearer=Person(report.wearer_id), count=days)]
    lines.append(
        voice.text(
            "stats.counts",
            completed=stats.completed,
            failed=stats.failed,
            missed=stats.missed,
            open=stats.open,
        )
    )
    if stats.rate is None:
        lines.append(voice.text("stats.rate-none"))
    else:
        lines.append(voice.text("stats.rate", rate=round(stats.rate * 100)))
    lines.append(voice.text("stats.streak", current=stats.current_streak, best=stats.best_streak))
    lines.append(voice.text("stats.points", count=stats.points))
    if report.lock_points is not None:
        if report.lock_target:
            lines.append(
                voice.text(
                    "stats.lock-target",
                    bar=progress_bar(report.lock_points, report.lock_target),
                    points=report.lock_points,
                    target=report.lock_target,
                )
            )
        else:
            lines.append(voice.text("stats.lock-points", count=report.lock_points))
    return "\n".join(lines)


def progress_bar(points: int, target: int) -> str:
    """ "■■■■□□□□□□" for 4 of 10: how far the points are toward the target."""
    filled = min(BAR_WIDTH, max(0, round(BAR_WIDTH * points / target))) if target > 0 else 0
    return FULL * filled + EMPTY * (BAR_WIDTH - filled)


def chart_labels(days: int, voice: Voice) -> ChartLabels:
    return ChartLabels(
        title=voice.text("chart.title", count=days),
        points=voice.text("chart.points"),
        completed=voice.text("chart.completed"),
        failed=voice.text("chart.failed"),
        missed=voice.text("chart.missed"),
    )
