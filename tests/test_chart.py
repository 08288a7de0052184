"""The stats chart: a PNG of a readable size, drawn off the event loop, matplotlib loaded only
when drawing."""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
import threading
import zlib
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.core.stats import Day
from bot.discord_side import chart
from bot.discord_side.chart import ChartLabels, chart_png, draw_chart

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = ChartLabels(
    title="Tâches", points="Points", completed="Réussies", failed="Échouées", missed="Ratées"
)
# How long a hung worker may hold a test before it fails rather than hangs.
GUARD_SECONDS = 10


def days_of(count: int) -> list[Day]:
    """`count` days ending 15 June 2026, with every kind of outcome."""
    last = date(2026, 6, 15)
    return [
        Day(last - timedelta(days=count - 1 - i), (i * 7) % 40, i % 4, i % 3 == 0, i % 5 == 0)
        for i in range(count)
    ]


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of each chunk, each CRC checked: the file is a whole PNG."""
    assert data.startswith(PNG_SIGNATURE)
    chunks = []
    offset = len(PNG_SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        payload = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + payload) == crc, kind
        chunks.append((kind, payload))
        offset += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    return chunks


def size_of(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk."""
    width, height = struct.unpack(">II", png_chunks(data)[0][1][:8])
    return width, height


@pytest.mark.parametrize("count", [7, 30, 365])
def test_the_chart_is_a_png_of_a_phone_friendly_size(count: int) -> None:
    data = draw_chart(days_of(count), LABELS)
    assert data.startswith(PNG_SIGNATURE)
    width, height = size_of(data)
    assert 600 <= width <= 2000
    assert 300 <= height <= 1200
    assert len(data) < 200_000


def test_the_image_holds_pixels() -> None:
    data = draw_chart(days_of(30), LABELS)
    chunks = png_chunks(data)
    width, height = size_of(data)
    pixels = zlib.decompress(b"".join(payload for kind, payload in chunks if kind == b"IDAT"))
    # One filter byte per row, then 3 or 4 bytes a pixel.
    assert len(pixels) in {height * (1 + width * 3), height * (1 + width * 4)}
    # Not a blank canvas: bars in colour.
    assert len(set(pixels)) > 10


def test_a_chart_of_empty_days_is_drawn() -> None:
    empty = [Day(day.date, 0, 0, 0, 0) for day in days_of(7)]
    assert draw_chart(empty, LABELS).startswith(PNG_SIGNATURE)


async def test_chart_png_draws_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The drawing waits for a coroutine the loop runs meanwhile: drawn on the loop's own
    thread, it would wait in vain and the check would fail."""
    loop_thread = threading.get_ident()
    loop_ran = threading.Event()
    seen: dict[str, int | bool] = {}
    real = chart.draw_chart

    def drawing(days: list[Day], labels: ChartLabels) -> bytes:
        seen["thread"] = threading.get_ident()
        seen["loop ran first"] = loop_ran.wait(GUARD_SECONDS)
        return real(days, labels)

    async def trivial() -> None:
        loop_ran.set()

    monkeypatch.setattr(chart, "draw_chart", drawing)
    drawn = asyncio.create_task(chart_png(days_of(30), LABELS))
    await asyncio.gather(drawn, trivial())
    assert seen == {"thread": seen["thread"], "loop ran first": True}
    assert seen["thread"] != loop_thread
    assert drawn.result().startswith(PNG_SIGNATURE)


async def test_chart_png_gives_the_same_image_as_draw_chart() -> None:
    assert await chart_png(days_of(30), LABELS) == draw_chart(days_of(30), LABELS)


def test_importing_the_module_does_not_load_matplotlib() -> None:
    probe = "import bot.discord_side.chart, sys; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"


def test_drawing_loads_matplotlib_without_pyplot() -> None:
    """The positive side of the lazy import, and no pyplot with its global state."""
    probe = (
        "import sys; from bot.discord_side.chart import draw_chart, ChartLabels;"
        "draw_chart([], ChartLabels('a', 'b', 'c', 'd', 'e'));"
        "print('matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "True False"
