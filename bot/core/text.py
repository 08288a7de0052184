"""Task text: what a description typed in Discord may contain, and how Chaster's text is cleaned.

Both sides follow one rule, so a task assigned here and read back from Chaster compares equal:
every description `check_description` accepts is left unchanged by `clean_task_text`.
"""

from __future__ import annotations

import unicodedata

from bot.tasks.errors import Refused

MAX_DESCRIPTION_LENGTH = 500
NO_DESCRIPTION = "(no description)"

# Embeddings, overrides and isolates make text display in another order than it is written
# (the "Trojan Source" trick: an override can show "accept" for the letters "tpecca"). Ordinary
# Hebrew or Arabic needs none of them; the marks U+200E, U+200F and U+061C stay allowed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# Characters that show nothing on their own: format characters (zero-width space and joiners,
# soft hyphen, word joiner), separators, combining marks without a base, unassigned code points.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})
# Letters and symbols that render as blank space; the usual way to post an "empty" message.
_BLANK_LOOKALIKES = frozenset("\u115f\u1160\u3164\uffa0\u2800")

CONTROL_MESSAGE = (
    "The description contains control characters; use plain text (line breaks are fine)."
)
BIDI_MESSAGE = (
    "The description contains direction override or isolate characters (U+202A to U+202E, "
    "U+2066 to U+2069), which make text display differently from what it says; remove them. "
    "Ordinary right-to-left text is fine."
)
INVISIBLE_MESSAGE = (
    "The description has nothing visible in it (only spaces or invisible characters such as "
    "zero-width spaces)."
)


def _is_control(char: str) -> bool:
    # NUL and friends: SQLite's length() stops at NUL, and no one types these on purpose. A lone
    # surrogate cannot be encoded as UTF-8, so neither SQLite nor Chaster's JSON could take it.
    return char not in "\n\t" and unicodedata.category(char) in ("Cc", "Cs")


def _is_visible(char: str) -> bool:
    return (
        not char.isspace()
        and char not in _BLANK_LOOKALIKES
        and unicodedata.category(char) not in _INVISIBLE_CATEGORIES
    )


def check_description(description: str) -> str:
    """The description as it will be sent to Chaster (trimmed); Refused if it can't be a task."""
    text = description.strip()
    if any(_is_control(char) for char in text):
        raise Refused(CONTROL_MESSAGE)
    if any(char in BIDI_CONTROLS for char in text):
        raise Refused(BIDI_MESSAGE)
    if text and not any(_is_visible(char) for char in text):
        raise Refused(INVISIBLE_MESSAGE)
    if not 1 <= len(text) <= MAX_DESCRIPTION_LENGTH:
        raise Refused(
            f"The description must be 1 to {MAX_DESCRIPTION_LENGTH} characters (it is {len(text)})."
        )
    return text


def clean_task_text(raw: str) -> str:
    """A task's text from Chaster as stored here: control and direction-override characters
    blanked, trimmed, within the limit; text with nothing visible becomes a placeholder."""
    text = "".join(" " if _is_control(char) or char in BIDI_CONTROLS else char for char in raw)
    # Trimmed again after the cut, so the result is exactly what check_description would keep.
    text = text.strip()[:MAX_DESCRIPTION_LENGTH].rstrip()
    return text if any(_is_visible(char) for char in text) else NO_DESCRIPTION


def quotable(text: str, limit: int = 40) -> str:
    """`text` cut short for a reply to quote between backticks: no backtick to end the quote
    early, and no control or direction character to garble the reply around it."""
    shown = text.strip()[:limit].replace("`", "'")
    return "".join(_quoted_char(char) for char in shown)


def _quoted_char(char: str) -> str:
    if char in "\n\t":
        return " "  # a line break would end the inline quote
    return "\ufffd" if _is_control(char) or char in BIDI_CONTROLS else char


def same_task(chaster_text: str, stored: str) -> bool:
    """Whether Chaster's task text is the task stored here (stored text is already clean)."""
    return clean_task_text(chaster_text) == stored
