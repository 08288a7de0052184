"""The event bus: the core announces what happened; the feed and the timers listen."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.core.model import Event, EventKind, TaskEvent
from bot.store import SessionLink, Task

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], Awaitable[None]]


class EventBus:
    """Calls every subscriber for every event, in subscription order."""

    def __init__(self) -> None:
        self._handlers: list[EventHandler] = []

    def subscribe(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    async def publish(self, event: Event) -> None:
        for handler in self._handlers:
            try:
                await handler(event)
            except Exception:
                # The change already happened in Chaster and in the store; a feed failure must
                # not turn it into an error for the person who asked.
                log.exception("event handler failed for %s", event.kind)

    async def task_event(
        self,
        kind: EventKind,
        task: Task,
        link: SessionLink,
        by_user_id: int | None,
        *,
        counts_as_failure: bool = True,
    ) -> None:
        await self.publish(
            TaskEvent(
                kind=kind,
                task=task,
                link=link,
                channel_id=task.feed_channel_id,
                by_user_id=by_user_id,
                counts_as_failure=counts_as_failure,
            )
        )
