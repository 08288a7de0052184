"""The message catalogue: every language complete and in step with the English template, plural
forms right, every key the code uses present, and no sentence that users see written outside
it. Also: the core imports nothing from Discord and holds no user-facing text."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.errors import Consequence, Reason, Trouble
from bot.core.library import Source
from bot.core.pages import PageProblem
from bot.core.record import GivenBy, Outcome
from bot.discord_side.feed_problems import PERMISSION_ORDER
from bot.i18n import Catalogue, default_catalogue, parse_po
from bot.i18n.po import PoEntry
from bot.store import (
    Controls,
    LinkRequestState,
    Origin,
    PenaltyAction,
    PenaltyOn,
    Proof,
    TaskState,
)

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "bot" / "locales"
LANGUAGES = ("en", "de", "es", "fr")
TRANSLATED = ("de", "es", "fr")
# Each language's plural rule, as gettext writes it.
PLURAL_FORMS = {
    "de": "nplurals=2; plural=(n != 1);",
    "es": "nplurals=2; plural=(n != 1);",
    "fr": "nplurals=2; plural=(n > 1);",
}
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
KEY = re.compile(r"[a-z][a-z0-9-]*(\.[a-z0-9_-]+)+")


def template() -> dict[str, PoEntry]:
    entries = parse_po((LOCALES / "messages.pot").read_text(encoding="utf-8"))
    return {entry.msgctxt: entry for entry in entries if entry.msgctxt is not None}


def translation(language: str) -> list[PoEntry]:
    path = LOCALES / f"{language}.po"
    return parse_po(path.read_text(encoding="utf-8"), source=path.name)


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_the_bot_speaks_four_languages() -> None:
    assert default_catalogue().languages == LANGUAGES


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_has_every_message_of_the_template_and_nothing_else(language: str) -> None:
    entries = [entry for entry in translation(language) if not entry.is_header]
    english = template()
    assert [entry.msgctxt for entry in entries] == list(english)
    for entry in entries:
        assert entry.msgctxt is not None
        source = english[entry.msgctxt]
        # A changed English text makes the translation stale until a translator looks at it.
        assert (entry.msgid, entry.msgid_plural) == (source.msgid, source.msgid_plural), (
            f"{language}: {entry.msgctxt} translates an older English text"
        )
        assert entry.is_translated, f"{language}: {entry.msgctxt} is untranslated or fuzzy"


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_keeps_the_placeholders_of_the_english(language: str) -> None:
    english = template()
    checked = 0
    for entry in translation(language):
        if entry.is_header:
            continue
        assert entry.msgctxt is not None
        source = english[entry.msgctxt]
        wanted = placeholders(source.msgid_plural or source.msgid)
        assert len(entry.msgstr) == (2 if source.msgid_plural else 1), entry.msgctxt
        for form in entry.msgstr:
            assert placeholders(form) == wanted, f"{language}: {entry.msgctxt}: {form!r}"
            checked += 1
    assert checked >= len(english)


def test_both_english_forms_of_a_plural_message_have_the_same_placeholders() -> None:
    plurals = [entry for entry in template().values() if entry.msgid_plural is not None]
    assert len(plurals) == 30  # the check has something to check
    for entry in plurals:
        assert entry.msgid_plural is not None
        assert placeholders(entry.msgid) == placeholders(entry.msgid_plural), entry.msgctxt


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_declares_its_language_and_plural_rule(language: str) -> None:
    header = translation(language)[0]
    assert header.is_header
    fields = header.header()
    assert fields["Language"] == language
    assert fields["Plural-Forms"] == PLURAL_FORMS[language]
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"


def test_french_counts_zero_and_one_as_singular() -> None:
    catalogue = default_catalogue()
    singular = catalogue.template("fr", "reply.assigned", count=1)
    assert catalogue.template("fr", "reply.assigned", count=0) == singular
    assert catalogue.template("fr", "reply.assigned", count=2) != singular
    assert catalogue.template("fr", "reply.assigned", count=2) == catalogue.template(
        "fr", "reply.assigned", count=500
    )


@pytest.mark.parametrize("language", ["de", "es"])
def test_german_and_spanish_count_zero_as_plural(language: str) -> None:
    catalogue = default_catalogue()
    one = catalogue.template(language, "status.task", count=1)
    assert catalogue.template(language, "status.task", count=0) != one
    assert catalogue.template(language, "status.task", count=0) == catalogue.template(
        language, "status.task", count=2
    )


def test_english_keeps_the_wording_people_know() -> None:
    catalogue = default_catalogue()
    # "(1 points)" has always been the bot's English; its plural forms are the same.
    assert catalogue.template("en", "reply.assigned", count=1) == catalogue.template(
        "en", "reply.assigned", count=2
    )
    assert catalogue.template("en", "refusal.already-linked") == (
        "{wearer} is already linked here. Use /unlink first."
    )


def test_a_language_without_a_translation_of_a_message_falls_back_to_english(
    tmp_path: Path,
) -> None:
    (tmp_path / "messages.pot").write_text(
        'msgctxt "a.key"\nmsgid "Hello {name}"\nmsgstr ""\n', encoding="utf-8"
    )
    (tmp_path / "xx.po").write_text(
        'msgid ""\nmsgstr "Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
        '#, fuzzy\nmsgctxt "a.key"\nmsgid "Hello {name}"\nmsgstr "Bonjour {name}"\n',
        encoding="utf-8",
    )
    catalogue = Catalogue.load(tmp_path)
    assert catalogue.languages == ("en", "xx")
    # A fuzzy translation is not used, as with msgfmt.
    assert catalogue.template("xx", "a.key") == "Hello {name}"
    assert catalogue.translated("xx", "a.key") is None


# -- every key the code uses is in the template, and every message is used -------------------


def python_files(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def string_constants(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


# The keys the extension's pages use in their scripts (the backend sends each page those
# starting with "page." and its own prefix); some are built: "main-page.recent." + outcome.
PAGE_KEY = re.compile(r'"((?:page|main-page|config-page)\.[a-z0-9_.-]+)"')
PAGE_KEYS_BUILT = {
    *(f"main-page.recent.{outcome}" for outcome in ("completed", "failed")),
    *(f"main-page.code.{role}" for role in ("wearer", "keyholder")),
    *(f"config-page.action.{action}" for action in ("none", *PenaltyAction)),
    *(f"{page}-page.title" for page in ("main", "config")),
}


def keys_in_code() -> set[str]:
    """Every string of the form of a key in the Discord side, the cogs and the pages' backend
    (they all are keys), and the keys the pages' scripts use."""
    in_python = {
        value
        for path in python_files("bot/discord_side", "cogs")
        for _, value in string_constants(path)
        if KEY.fullmatch(value)
    }
    in_python |= {
        value
        for _, value in string_constants(ROOT / "bot" / "web_pages.py")
        if PAGE_KEY.fullmatch(f'"{value}"')
    }
    in_scripts = {
        key
        for path in sorted((ROOT / "bot" / "static").glob("*.js"))
        for key in PAGE_KEY.findall(path.read_text(encoding="utf-8"))
        if not key.endswith(".")
    }
    return in_python | in_scripts | PAGE_KEYS_BUILT


def keys_from_enums() -> set[str]:
    """Keys built from the core's codes and states, and from the catalogue's own languages."""
    return (
        {member.value for member in (*Reason, *Trouble, *Consequence)}
        | {f"task-state.{state.value}" for state in TaskState}
        | {f"link-request-state.{state.value}" for state in LinkRequestState}
        | {f"permission.{name}" for name in PERMISSION_ORDER}
        | {f"choice.language.{code}" for code in ("auto", *LANGUAGES)}
        | {
            f"{kind}.{style.value}"
            for kind in ("choice.controls", "reply.controls")
            for style in Controls
        }
        | {f"choice.source.{source.value}" for source in Source}
        | {f"feed.post.{origin.value}" for origin in Origin}
        | {f"weekday.{day}" for day in range(7)}
        | {f"{kind}.{on.value}" for kind in ("penalty.on", "choice.penalty-on") for on in PenaltyOn}
        | {f"feed.consequence-applied.{on.value}" for on in PenaltyOn}
        | {"choice.penalty-on.all"}
        | {
            f"{kind}.{action.value}"
            for kind in ("penalty.action", "choice.penalty-action")
            for action in PenaltyAction
        }
        | {"choice.dm.on", "choice.dm.off"}
        | {f"history.outcome.{outcome.value}" for outcome in Outcome}
        | {f"history.by.{given.value}" for given in GivenBy}
        | {f"chaster-log.consequence.{on.value}" for on in PenaltyOn}
        | {problem.value for problem in PageProblem}
        | {f"choice.proof.{value}" for value in ("none", *(proof.value for proof in Proof))}
        | {f"{kind}.{proof.value}" for kind in ("feed.kind.proof", "feed.proof") for proof in Proof}
    )


def test_every_key_the_code_uses_has_a_message() -> None:
    used = keys_in_code() | keys_from_enums()
    missing = sorted(used - set(template()))
    assert missing == [], f"keys without a message in messages.pot: {missing}"


def test_every_message_of_the_template_is_used() -> None:
    unused = sorted(set(template()) - keys_in_code() - keys_from_enums())
    assert unused == [], f"messages nothing uses: {unused}"


# -- no sentence outside the catalogue ---------------------------------------------------------

# Two words in a row: the mark of a sentence (a key, an emoji or "<@{id}> {text}" has none).
WORDS = re.compile(r"[A-Za-z]{2,}[ ,;:']+[A-Za-z]{2,}")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
# Functions that write a log line (bot.core.chaster_errors.log_retry).
LOG_HELPERS = {"log_retry"}
# Keyword arguments whose strings are names, never read as text (command and option names).
NAME_KEYWORDS = {"name", "group_name", "custom_id"}


def _ignored(tree: ast.AST) -> set[int]:
    """ids of string nodes that are not user text: docstrings, log lines, programmer errors,
    names."""
    ignored: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            ignored.add(id(first.value))
        skip: list[ast.AST] = []
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in LOG_METHODS:
                skip.extend(node.args)
            if isinstance(func, ast.Name) and func.id in LOG_HELPERS:
                skip.extend(node.args)
            skip.extend(kw.value for kw in node.keywords if kw.arg in NAME_KEYWORDS)
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in {"ValueError", "TypeError", "RuntimeError"}:
                skip.append(node.exc)
        if isinstance(node, ast.Assert) and node.msg is not None:
            skip.append(node.msg)
        for part in skip:
            ignored.update(id(inner) for inner in ast.walk(part))
    return ignored


def sentences(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    ignored = _ignored(tree)
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in ignored
        ):
            text = node.value
            if WORDS.search(text) or ("<@" in text and WORDS.search(text.replace("<@", ""))):
                found.append((node.lineno, text))
    return found


# Stored as a task's text when Chaster's has nothing visible; never shown as it is (the Discord
# side shows the catalogue's `task.no-description`).
STORED_PLACEHOLDERS = {"(no description)"}


def test_no_sentence_users_see_is_written_outside_the_catalogue() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in python_files("bot/discord_side", "cogs", "bot/core")
        for line, text in sentences(path)
        if text not in STORED_PLACEHOLDERS
    ]
    assert found == []


def test_the_sentence_check_finds_a_sentence(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""A docstring is fine."""\n'
        "log.info('a log line is fine')\n"
        "voice.text('reply.done.fail')\n"
        "await channel.send(f'<@{user}> was refused because of you')\n"
        "raise Refused(Reason.NOT_TIMED)\n",
        encoding="utf-8",
    )
    assert [text for _, text in sentences(sample)] == ["> was refused because of you"]


def test_the_core_imports_nothing_from_discord() -> None:
    probe = (
        "import sys, bot.core, bot.core.policy;"
        "print(sorted(m for m in sys.modules if m == 'discord' or m.startswith('discord.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_the_core_holds_no_mention_or_command_name() -> None:
    found = []
    for path in python_files("bot/core"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        ignored = _ignored(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            text = node.value
            if id(node) in ignored:
                continue
            if "<@" in text or "<#" in text or re.search(r"(^|\s)/[a-z]", text):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text!r}")
    assert found == []
