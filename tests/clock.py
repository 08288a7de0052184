"""The one fake clock of the tests: it stands still until a test moves it.

The bot's parts take it as their clock, and the fake Chaster can share it, so one `advance`
moves time for both and nothing depends on how fast the machine runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
