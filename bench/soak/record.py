"""What the soak did, step by step: the transcript, each interaction sent, the faults."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord import InteractionHandle


@dataclass(frozen=True)
class Line:
    step: int
    at: float  # seconds since the run began
    text: str


@dataclass
class Sent:
    """An interaction the driver sent, and what it was meant to do."""

    step: int
    handle: InteractionHandle
    action: str  # e.g. "assign", "complete", "pause"
    session_id: str | None
    description: str | None = None
    up: bool = True  # the bot was up when it was sent

    def answer(self) -> tuple[str, float | None]:
        """The text of the bot's last message in answer (empty when none yet), and when it
        came (the fake Discord's clock)."""
        text, at = "", None
        for response in self.handle.responses():
            body = response["body"]
            if response["status"] not in (200, 204) or not isinstance(body, dict):
                continue
            data = body.get("data") if response["kind"] == "callback" else body
            if isinstance(data, dict) and data.get("content"):
                text, at = str(data["content"]), float(response["at"])
        return text, at

    def first_response(self) -> dict[str, Any] | None:
        return next((r for r in self.handle.responses() if r["kind"] == "callback"), None)


@dataclass
class Record:
    seed: int
    began: float = field(default_factory=time.monotonic)
    lines: list[Line] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    faults: collections.Counter[str] = field(default_factory=collections.Counter)
    actions: collections.Counter[str] = field(default_factory=collections.Counter)
    checks: collections.Counter[str] = field(default_factory=collections.Counter)
    step: int = 0

    def now(self) -> float:
        return time.monotonic() - self.began

    def note(self, text: str) -> None:
        self.lines.append(Line(self.step, self.now(), text))

    def around(self, step: int, before: int = 25, after: int = 5) -> str:
        """The transcript from `before` steps before `step` to `after` steps after it."""
        shown = [line for line in self.lines if step - before <= line.step <= step + after]
        return "\n".join(f"  [{line.step:5d} {line.at:8.2f}s] {line.text}" for line in shown)
