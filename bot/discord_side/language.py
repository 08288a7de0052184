"""Which language to speak: each person's Discord locale for what only they see, the server's
language for public messages, and the catalogue's translations of the slash commands."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.core.settings import AUTO_LANGUAGE
from bot.i18n import ENGLISH, Catalogue, default_catalogue


def command_text(key: str) -> app_commands.locale_str:
    """A command, option or choice description: English by default, translated per locale by
    `CommandTranslator` when the commands are synced."""
    return app_commands.locale_str(default_catalogue().template(ENGLISH, key), key=key)


def language_of_locale(locale: discord.Locale | str | None, catalogue: Catalogue) -> str:
    """The catalogue language for a Discord locale ("fr", "es-419" -> "es"); English if none."""
    if locale is None:
        return ENGLISH
    code = locale.value if isinstance(locale, discord.Locale) else str(locale)
    base = code.split("-")[0].lower()
    return base if base in catalogue.languages else ENGLISH


def server_language(setting: str, guild: discord.Guild | None, catalogue: Catalogue) -> str:
    """The language of a server's public messages: its setting, or with 'auto' its preferred
    locale in Discord (English when the bot does not speak it)."""
    if setting != AUTO_LANGUAGE and setting in catalogue.languages:
        return setting
    return language_of_locale(guild.preferred_locale if guild is not None else None, catalogue)


class CommandTranslator(app_commands.Translator):
    """Descriptions and choice names from the catalogue; command and option names stay
    English (they are the public interface)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        if not isinstance(key, str):
            return None
        language = language_of_locale(locale, self.catalogue)
        if language == ENGLISH:
            return None
        return self.catalogue.translated(language, key)
