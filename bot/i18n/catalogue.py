"""The catalogue: `messages.pot` holds every message in English, keyed by its `msgctxt`;
each `<language>.po` beside it translates them."""

from __future__ import annotations

import functools
import gettext
import io
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from bot.i18n.po import PoEntry, compile_mo, parse_po

ENGLISH = "en"
TEMPLATE = "messages.pot"


@dataclass(frozen=True)
class Message:
    """One message of the template: its key, and its English text (singular and plural)."""

    key: str
    singular: str
    plural: str | None = None


class Catalogue:
    """Messages by key, in each language; English when a language lacks a translation."""

    def __init__(
        self, messages: dict[str, Message], translations: dict[str, gettext.GNUTranslations]
    ) -> None:
        self.messages = messages
        self._translations = translations
        self.languages: tuple[str, ...] = (ENGLISH, *sorted(translations))

    @classmethod
    def load(cls, folder: Traversable | None = None) -> Catalogue:
        """Read `messages.pot` and every `.po` file in `folder` (default: bot/locales)."""
        folder = folder or resources.files("bot") / "locales"
        template = folder / TEMPLATE
        messages: dict[str, Message] = {}
        for entry in parse_po(template.read_text(encoding="utf-8"), source=TEMPLATE):
            if entry.is_header:
                continue
            if entry.msgctxt is None:
                raise ValueError(f"{TEMPLATE}:{entry.line}: every message needs a msgctxt key")
            if entry.msgctxt in messages:
                raise ValueError(f"{TEMPLATE}:{entry.line}: {entry.msgctxt} appears twice")
            messages[entry.msgctxt] = Message(entry.msgctxt, entry.msgid, entry.msgid_plural)
        translations: dict[str, gettext.GNUTranslations] = {}
        for item in sorted(folder.iterdir(), key=lambda path: path.name):
            if item.name.endswith(".po"):
                entries = parse_po(item.read_text(encoding="utf-8"), source=item.name)
                translations[item.name.removesuffix(".po")] = _translations(entries)
        return cls(messages, translations)

    def template(self, language: str, key: str, count: int | None = None) -> str:
        """The message `key` in `language`, in the plural form for `count` when it has one."""
        message = self.messages[key]
        translation = self._translations.get(language)
        if message.plural is None:
            if translation is None:
                return message.singular
            return translation.pgettext(key, message.singular)
        number = 1 if count is None else count
        if translation is None:
            return message.singular if number == 1 else message.plural
        return translation.npgettext(key, message.singular, message.plural, number)

    def translated(self, language: str, key: str) -> str | None:
        """The message in `language` if it has its own translation there, else None."""
        message = self.messages.get(key)
        translation = self._translations.get(language)
        if message is None or translation is None:
            return None
        text = translation.pgettext(key, message.singular)
        return text if text != message.singular or language == ENGLISH else None


def _translations(entries: list[PoEntry]) -> gettext.GNUTranslations:
    return gettext.GNUTranslations(io.BytesIO(compile_mo(entries)))


@functools.cache
def default_catalogue() -> Catalogue:
    """The catalogue shipped with the bot, read once."""
    return Catalogue.load()
