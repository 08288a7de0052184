"""A keyholder's task library in a server, and the lock's own task list beside it: the tasks
a keyholder assigns by name, draws at random or puts to a vote.

Entries belong to the keyholder who made them: every lookup names the caller, so nobody else
can list, use or remove them, and nothing crosses servers.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from enum import StrEnum

from bot.chaster import ChasterClient, TaskDetails
from bot.chaster.state import ListedTask
from bot.core.durations import (
    MAX_DURATION_SECONDS,
    MIN_DURATION_SECONDS,
    optional_span,
    parse_duration,
)
from bot.core.errors import Person, Reason, Refused, Typed
from bot.core.links import open_link
from bot.core.locks import Locks
from bot.core.model import Caller
from bot.core.policy import Action, require, role_of
from bot.core.shared import Part, Shared
from bot.core.state_view import StateView
from bot.core.text import NO_DESCRIPTION, check_description, clean_task_text, is_control
from bot.store import (
    ConstraintViolation,
    LibraryEntry,
    LibraryFull,
    Origin,
    Proof,
    SessionLink,
    Store,
)

LIBRARY_LIMIT = 200
TAG_LIMIT = 32
# "#12" names entry 12 of the caller's library (what autocomplete sends for a text too long to
# be a choice's value).
_ENTRY_REFERENCE = re.compile(r"#([0-9]{1,18})")


class Source(StrEnum):
    """Where a random draw or a vote takes its tasks from."""

    LIBRARY = "library"
    LOCK = "lock"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A task that can be given: a library entry, or a task of the lock's own list."""

    description: str
    points: int
    duration_seconds: int | None
    verification_required: bool
    # None for a task of the lock's list.
    entry_id: int | None = None
    tag: str | None = None
    deadline_seconds: int | None = None
    # Who judges the photo it needs (an entry's choice; a lock's list task needs none).
    proof: Proof | None = None

    @property
    def from_lock(self) -> bool:
        return self.entry_id is None

    @property
    def origin(self) -> Origin:
        """What a task drawn from here came from."""
        return Origin.RANDOM_LOCK if self.from_lock else Origin.RANDOM_LIBRARY

    def details(self) -> TaskDetails:
        """The task as Chaster is asked to assign it."""
        return TaskDetails(
            task=self.description,
            points=self.points,
            verification_required=self.verification_required,
            duration=self.duration_seconds,
        )

    @classmethod
    def of(cls, entry: LibraryEntry) -> Candidate:
        return cls(
            entry.description,
            entry.points,
            entry.duration_seconds,
            entry.verification_required,
            entry.id,
            entry.tag,
            entry.deadline_seconds,
            entry.proof,
        )


@dataclass(frozen=True)
class Imported:
    """What `/library import` did: entries added, entries already there, and whether the
    library filled up before the end of the list."""

    added: int
    skipped: int
    full: bool


def check_tag(tag: str | None) -> str | None:
    """A tag as stored (trimmed), None for none; Refused when it cannot be one."""
    if tag is None:
        return None
    text = tag.strip()
    if not 1 <= len(text) <= TAG_LIMIT or any(is_control(c) or c in "\n\t" for c in text):
        raise Refused(Reason.TAG_INVALID, typed=Typed(tag), limit=TAG_LIMIT)
    return text


def check_proof(proof: Proof | None, *, verification_required: bool) -> None:
    """Chaster's own photo flow and a photo judged through the bot do not go together."""
    if proof is not None and verification_required:
        raise Refused(Reason.PROOF_WITH_VERIFICATION)


def draw(
    candidates: list[Candidate], previous: str | None, rng: random.Random, count: int = 1
) -> list[Candidate]:
    """`count` different tasks at random (fewer when there are not as many); never the text
    of the wearer's previous task while there is another choice."""
    distinct = list({candidate.description: candidate for candidate in candidates}.values())
    others = [candidate for candidate in distinct if candidate.description != previous]
    pool = others if len(others) >= min(count, len(distinct)) else distinct
    return rng.sample(pool, min(count, len(pool)))


class Library(Part):
    def __init__(
        self, store: Store, chaster: ChasterClient, shared: Shared, *, locks: Locks, view: StateView
    ) -> None:
        super().__init__(store, chaster, shared)
        self._locks = locks
        self._view = view

    async def add(
        self,
        caller: Caller,
        *,
        description: str,
        points: int,
        duration: str | None = None,
        verification_required: bool = False,
        tag: str | None = None,
        deadline: str | None = None,
        proof: Proof | None = None,
    ) -> LibraryEntry:
        """Keep a task under the same rules as `/task assign`."""
        async with self._audit.action(caller, "library.add"):
            text = check_description(description)
            if points < 0:
                raise Refused(Reason.NEGATIVE_POINTS)
            check_proof(proof, verification_required=verification_required)
            seconds = parse_duration(duration) if duration and duration.strip() else None
            return await self._add(
                caller,
                text,
                points,
                seconds,
                verification_required,
                check_tag(tag),
                deadline_seconds=optional_span(deadline),
                proof=proof,
            )

    async def _add(
        self,
        caller: Caller,
        text: str,
        points: int,
        seconds: int | None,
        verification_required: bool,
        tag: str | None,
        *,
        deadline_seconds: int | None = None,
        proof: Proof | None = None,
    ) -> LibraryEntry:
        try:
            return await self._store.add_library_entry(
                guild_id=caller.guild_id,
                keyholder_id=caller.user_id,
                description=text,
                points=points,
                duration_seconds=seconds,
                verification_required=verification_required,
                tag=tag,
                now=self._clock(),
                limit=LIBRARY_LIMIT,
                deadline_seconds=deadline_seconds,
                proof=proof,
            )
        except LibraryFull:
            raise Refused(Reason.LIBRARY_FULL, count=LIBRARY_LIMIT) from None
        except ConstraintViolation:
            kept = await self._find(caller, text)
            raise Refused(Reason.LIBRARY_HAS_IT, number=kept.id if kept else 0) from None

    async def entry(self, guild_id: int, keyholder_id: int, entry_id: int) -> Candidate | None:
        """One of the keyholder's entries, by number (a schedule names one)."""
        found = await self._store.get_library_entry(guild_id, keyholder_id, entry_id)
        return Candidate.of(found) if found is not None else None

    async def entries(self, caller: Caller, tag: str | None = None) -> list[LibraryEntry]:
        """The caller's own entries in this server, oldest first."""
        return await self._store.library_entries(
            caller.guild_id, caller.user_id, tag=check_tag(tag)
        )

    async def remove(self, caller: Caller, entry: str) -> LibraryEntry:
        """Remove one of the caller's entries, named by its number ("12" or "#12") or its
        exact text."""
        async with self._audit.action(caller, "library.remove", detail=f"entry={entry[:40]}"):
            # 18 digits at most: anything longer is no entry number SQLite could hold.
            number = re.fullmatch(r"#?([0-9]{1,18})", entry.strip())
            found = (
                await self._store.get_library_entry(caller.guild_id, caller.user_id, int(number[1]))
                if number is not None
                else await self._find(caller, entry.strip())
            )
            # Someone else's entry is no entry: the refusal says nothing of it.
            if found is None or not await self._store.remove_library_entry(
                caller.guild_id, caller.user_id, found.id
            ):
                if number is not None:
                    raise Refused(Reason.NO_SUCH_ENTRY, number=int(number[1]))
                raise Refused(Reason.NO_ENTRY_NAMED, typed=Typed(entry))
            return found

    async def import_from_lock(self, caller: Caller, wearer_id: int) -> Imported:
        """Copy the wearer's lock task list into the caller's library (keyholder of record
        only), skipping texts already there; stops when the library is full."""
        async with self._audit.action(caller, "library.import", detail=f"wearer={wearer_id}"):
            link = await open_link(self._store, caller.guild_id, wearer_id)
            require(Action.IMPORT, role_of(caller, link), keyholder=Person(link.keyholder_id))
            lock = await self._locks.read(link)
            if lock.tasks is None:
                raise Refused(Reason.NO_TASKS_EXTENSION)
            have = {entry.description for entry in await self.entries(caller)}
            added = skipped = 0
            for listed in _lock_candidates(lock.tasks.task_list):
                seconds = listed.duration_seconds
                usable = seconds is None or MIN_DURATION_SECONDS <= seconds <= MAX_DURATION_SECONDS
                if listed.description in have or not usable:
                    skipped += 1
                    continue
                try:
                    await self._add(
                        caller,
                        listed.description,
                        listed.points,
                        listed.duration_seconds,
                        listed.verification_required,
                        None,
                    )
                except Refused as refusal:
                    if refusal.reason is Reason.LIBRARY_FULL:
                        return Imported(added, skipped, full=True)
                    skipped += 1  # added meanwhile by another command
                    continue
                have.add(listed.description)
                added += 1
            return Imported(added, skipped, full=False)

    async def candidates(
        self, caller: Caller, link: SessionLink, source: Source, tag: str | None = None
    ) -> list[Candidate]:
        """What a draw or a vote for `link` can pick from: the caller's entries (with `tag`,
        when given) and the lock's own list (which has no tags), as `source` says."""
        tag = check_tag(tag)
        found: list[Candidate] = []
        if source is not Source.LOCK:
            found += [Candidate.of(entry) for entry in await self.entries(caller, tag)]
        if source is not Source.LIBRARY and tag is None:
            found += _lock_candidates(await self._lock_list(link))
        return found

    async def resolve(
        self, caller: Caller, link: SessionLink, description: str
    ) -> Candidate | None:
        """The entry or lock task `description` names (its exact text, or "#N" for entry N
        of the caller's), or None when it names none."""
        typed = description.strip()
        reference = _ENTRY_REFERENCE.fullmatch(typed)
        if reference is not None:
            entry = await self._store.get_library_entry(
                caller.guild_id, caller.user_id, int(reference[1])
            )
            if entry is not None:
                return Candidate.of(entry)
        mine = await self._find(caller, typed)
        if mine is not None:
            return Candidate.of(mine)
        return next(
            (
                c
                for c in _lock_candidates(self._view.task_list(link.chaster_session_id))
                if c.description == typed
            ),
            None,
        )

    async def suggestions(
        self, caller: Caller, wearer_id: int | None, typed: str
    ) -> list[Candidate]:
        """The caller's entries, then the wearer's lock list, whose text contains `typed`
        (any case). Local only (the lock list as last read), to answer while someone types."""
        needle = typed.strip().casefold()
        found = [Candidate.of(entry) for entry in await self.entries(caller)]
        if wearer_id is not None:
            link = await self._store.get_open_link(caller.guild_id, wearer_id)
            if link is not None and link.keyholder_id == caller.user_id:
                found += _lock_candidates(self._view.task_list(link.chaster_session_id))
        return [c for c in found if needle in c.description.casefold()]

    async def _find(self, caller: Caller, text: str) -> LibraryEntry | None:
        return await self._store.find_library_entry(caller.guild_id, caller.user_id, text)

    async def _lock_list(self, link: SessionLink) -> tuple[ListedTask, ...]:
        """The lock's list as last read; read once when it never was."""
        known = self._view.task_list(link.chaster_session_id)
        if known:
            return known
        lock = await self._locks.read(link)
        return lock.tasks.task_list if lock.tasks is not None else ()


def _lock_candidates(listed: tuple[ListedTask, ...]) -> list[Candidate]:
    """The lock's list as tasks the bot can give: text cleaned as Chaster's text always is;
    an entry without visible text is left out."""
    found = []
    for task in listed:
        text = clean_task_text(task.task)
        if text == NO_DESCRIPTION:
            continue
        found.append(
            Candidate(text, max(task.points, 0), task.duration, task.verification_required)
        )
    return found
