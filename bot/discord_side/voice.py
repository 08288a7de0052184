"""Words for Discord: the catalogue's messages in one language, with the core's parameters
shown the Discord way (mentions, times in each reader's own zone, quoted input)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import cast, get_args

from discord.utils import TimestampStyle, format_dt

from bot.core.errors import (
    Channel,
    Codes,
    Param,
    Permissions,
    Person,
    Phrase,
    Refused,
    TaskText,
    Typed,
)
from bot.core.text import BIDI_CONTROLS, NO_DESCRIPTION, is_control
from bot.i18n import ENGLISH, Catalogue, default_catalogue
from bot.store import LinkRequestState, TaskState

_TIME_STYLES = frozenset(get_args(TimestampStyle))


class Voice:
    """The catalogue in one language."""

    def __init__(self, language: str = ENGLISH, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue or default_catalogue()
        self.language = language if language in self.catalogue.languages else ENGLISH

    def text(self, key: str, /, **params: Param) -> str:
        """Message `key` filled in with `params`; a `count` parameter picks the plural form."""
        count = params.get("count")
        template = self.catalogue.template(
            self.language, key, count if isinstance(count, int) else None
        )
        return template.format_map({name: self._shown(value) for name, value in params.items()})

    def task_text(self, text: str) -> str:
        """A task's stored text; a task that has none in Chaster gets the catalogue's words."""
        return self.text("task.no-description") if text == NO_DESCRIPTION else text

    def refusal(self, refusal: Refused) -> str:
        return self.text(refusal.reason.value, **refusal.params)

    def duration_words(self, seconds: int) -> str:
        """`5400` -> "1 hour 30 minutes", in this voice's language."""
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        parts = [
            self.text(key, count=value)
            for key, value in (
                ("duration.hours", hours),
                ("duration.minutes", minutes),
                ("duration.seconds", secs),
            )
            if value
        ]
        return " ".join(parts)

    def _shown(self, value: Param) -> object:
        if isinstance(value, Person):
            return f"<@{value.user_id}>"
        if isinstance(value, Channel):
            return f"<#{value.channel_id}>"
        if isinstance(value, Typed):
            return quotable(value.text, value.limit)
        if isinstance(value, TaskText):
            return self.task_text(value.text)
        if isinstance(value, Codes):
            return ", ".join(f"`{code}`" for code in value.values)
        if isinstance(value, Permissions):
            return ", ".join(self.text(f"permission.{name}") for name in value.names)
        if isinstance(value, Phrase):
            return self.text(value.key.value, **value.params)
        if isinstance(value, TaskState):
            return self.text(f"task-state.{value.value}")
        if isinstance(value, LinkRequestState):
            return self.text(f"link-request-state.{value.value}")
        if isinstance(value, StrEnum):
            # An enum is a str too: without this, a code with no words would show as its key.
            raise TypeError(f"no words for {value!r}")
        if isinstance(value, datetime):
            return Moment(value)
        return "" if value is None else value


class Moment:
    """A time in a message: `{at}` is relative ("in 5 minutes"), `{at:t}` a short time; Discord
    shows either in each reader's own language and time zone."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __format__(self, spec: str) -> str:
        style = spec or "R"
        if style not in _TIME_STYLES:
            raise ValueError(f"no Discord time style {style!r}")
        return format_dt(self.moment, cast(TimestampStyle, style))


def quotable(text: str, limit: int = 40) -> str:
    """`text` cut short for a reply to quote between backticks: no backtick to end the quote
    early, and no control or direction character to garble the reply around it."""
    shown = text.strip()[:limit].replace("`", "'")
    return "".join(_quoted_char(char) for char in shown)


def _quoted_char(char: str) -> str:
    if char in "\n\t":
        return " "  # a line break would end the inline quote
    return "\ufffd" if is_control(char) or char in BIDI_CONTROLS else char
