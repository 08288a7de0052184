"""The message catalogue: every sentence users see, in gettext `.po` files (see bot/locales)."""

from bot.i18n.catalogue import ENGLISH, Catalogue, Message, default_catalogue
from bot.i18n.po import PoEntry, PoError, compile_mo, parse_po

__all__ = [
    "ENGLISH",
    "Catalogue",
    "Message",
    "PoEntry",
    "PoError",
    "compile_mo",
    "default_catalogue",
    "parse_po",
]
