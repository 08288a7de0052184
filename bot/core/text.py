"""Task text: what a description typed in Discord may contain, and how Chaster's text is cleaned.

Both sides follow one rule, so a task assigned here and read back from Chaster compares equal:
every description `check_description` accepts is left unchanged by `clean_task_text`.
"""

from __future__ import annotations

import unicodedata

from bot.core.errors import Reason, Refused

MAX_DESCRIPTION_LENGTH = 500
# Stored as the text of a task that has none in Chaster; the Discord side shows the catalogue's
# words for it instead (`task.no-description`).
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


def is_control(char: str) -> bool:
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
    if any(is_control(char) for char in text):
        raise Refused(Reason.DESCRIPTION_CONTROL)
    if any(char in BIDI_CONTROLS for char in text):
        raise Refused(Reason.DESCRIPTION_BIDI)
    if text and not any(_is_visible(char) for char in text):
        raise Refused(Reason.DESCRIPTION_INVISIBLE)
    if not 1 <= len(text) <= MAX_DESCRIPTION_LENGTH:
        raise Refused(Reason.DESCRIPTION_LENGTH, limit=MAX_DESCRIPTION_LENGTH, count=len(text))
    return text


def clean_task_text(raw: str) -> str:
    """A task's text from Chaster as stored here: control and direction-override characters
    blanked, trimmed, within the limit; text with nothing visible becomes a placeholder."""
    text = "".join(" " if is_control(char) or char in BIDI_CONTROLS else char for char in raw)
    # Trimmed again after the cut, so the result is exactly what check_description would keep.
    text = text.strip()[:MAX_DESCRIPTION_LENGTH].rstrip()
    return text if any(_is_visible(char) for char in text) else NO_DESCRIPTION


def same_task(chaster_text: str, stored: str) -> bool:
    """Whether Chaster's task text is the task stored here (stored text is already clean)."""
    return clean_task_text(chaster_text) == stored


# A reason (a pause's, a pillory's) is shown in the feed and in Chaster, cut to this length.
REASON_LIMIT = 200


def checked_reason(reason: str | None) -> str | None:
    """A reason, under the rules of a task's text; None when left empty."""
    if reason is None or not reason.strip():
        return None
    return check_description(reason)[:REASON_LIMIT]
