"""Reading gettext `.po` files and compiling them to `.mo` in memory.

The catalogues ship as `.po` text only, so a plain `pip install` needs no build step: at start
the bot compiles each one in memory and hands it to the standard library's `gettext`, which
then does the lookups and the plural forms declared in the file's `Plural-Forms` header.
"""

from __future__ import annotations

import ast
import struct
from dataclasses import dataclass, field

MO_MAGIC = 0x950412DE
# gettext's separator between a message's context and its id.
CONTEXT_SEPARATOR = "\x04"


class PoError(ValueError):
    """A `.po` file that is not well formed; the message names the file and line."""


@dataclass
class PoEntry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    # msgstr, or msgstr[0], msgstr[1], ... for a plural message.
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    comments: list[str] = field(default_factory=list)
    line: int = 0

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    @property
    def is_translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr) and "fuzzy" not in self.flags

    def header(self) -> dict[str, str]:
        """The header entry's fields (`Plural-Forms`, `Language`, ...)."""
        fields: dict[str, str] = {}
        for line in (self.msgstr[0] if self.msgstr else "").splitlines():
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip()] = value.strip()
        return fields


def parse_po(text: str, *, source: str = "<po>") -> list[PoEntry]:
    """Every entry of a `.po` file, the header first if it has one; obsolete (`#~`) entries
    are left out."""
    entries: list[PoEntry] = []
    entry = PoEntry()
    # The keyword the last string belongs to ("msgid", "msgstr[1]", ...), for continuations.
    current: str | None = None
    seen_keyword = False

    def finish() -> None:
        nonlocal entry, current, seen_keyword
        if seen_keyword:
            entries.append(entry)
        entry, current, seen_keyword = PoEntry(), None, False

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#"):
            if seen_keyword:
                finish()
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            else:
                entry.comments.append(line)
            continue
        if line.startswith('"'):
            if current is None:
                raise PoError(f"{source}:{number}: a string that continues nothing")
            _append(entry, current, _unquote(line, source, number))
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and seen_keyword and current not in (None, "msgctxt"):
            finish()
        if not entry.line:
            entry.line = number
        value = _unquote(rest.strip(), source, number)
        if keyword == "msgctxt":
            entry.msgctxt = value
        elif keyword == "msgid":
            entry.msgid = value
        elif keyword == "msgid_plural":
            entry.msgid_plural = value
        elif keyword == "msgstr":
            entry.msgstr = [value]
        elif keyword.startswith("msgstr[") and keyword.endswith("]"):
            index = int(keyword[7:-1])
            if index != len(entry.msgstr):
                raise PoError(f"{source}:{number}: {keyword} out of order")
            entry.msgstr.append(value)
        else:
            raise PoError(f"{source}:{number}: unknown keyword {keyword!r}")
        current = keyword
        seen_keyword = True
    finish()
    return entries


def _append(entry: PoEntry, keyword: str, value: str) -> None:
    if keyword == "msgctxt":
        entry.msgctxt = (entry.msgctxt or "") + value
    elif keyword == "msgid":
        entry.msgid += value
    elif keyword == "msgid_plural":
        entry.msgid_plural = (entry.msgid_plural or "") + value
    else:
        entry.msgstr[-1] += value


def _unquote(token: str, source: str, number: int) -> str:
    if len(token) < 2 or not (token.startswith('"') and token.endswith('"')):
        raise PoError(f"{source}:{number}: expected a quoted string")
    try:
        # PO strings use C escapes, which Python string literals read the same way.
        value = ast.literal_eval(token)
    except (SyntaxError, ValueError):
        raise PoError(f"{source}:{number}: badly quoted string") from None
    if not isinstance(value, str):
        raise PoError(f"{source}:{number}: expected a quoted string")
    return value


def compile_mo(entries: list[PoEntry]) -> bytes:
    """The `.mo` form of the translated entries (as `msgfmt` writes it: untranslated and
    fuzzy entries are left out, so lookups fall back to the English `msgid`)."""
    pairs: dict[bytes, bytes] = {}
    for entry in entries:
        if not entry.is_header and not entry.is_translated:
            continue
        key = entry.msgid
        if entry.msgid_plural is not None:
            key += "\x00" + entry.msgid_plural
        if entry.msgctxt is not None:
            key = entry.msgctxt + CONTEXT_SEPARATOR + key
        pairs[key.encode()] = "\x00".join(entry.msgstr).encode()
    originals = sorted(pairs)
    ids = strs = b""
    offsets: list[tuple[int, int, int, int]] = []
    for original in originals:
        offsets.append((len(ids), len(original), len(strs), len(pairs[original])))
        ids += original + b"\x00"
        strs += pairs[original] + b"\x00"
    count = len(originals)
    # Header (7 words), then the tables of original and translated strings, then the data.
    ids_start = 7 * 4 + count * 16
    strs_start = ids_start + len(ids)
    table_ids: list[int] = []
    table_strs: list[int] = []
    for id_offset, id_length, str_offset, str_length in offsets:
        table_ids += [id_length, ids_start + id_offset]
        table_strs += [str_length, strs_start + str_offset]
    header = struct.pack("Iiiiiii", MO_MAGIC, 0, count, 7 * 4, 7 * 4 + count * 8, 0, 0)
    return (
        header
        + struct.pack(f"{len(table_ids)}i", *table_ids)
        + struct.pack(f"{len(table_strs)}i", *table_strs)
        + ids
        + strs
    )
