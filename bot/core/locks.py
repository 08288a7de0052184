"""Reading a linked lock from Chaster, and keeping what the link knows of it in step."""

from __future__ import annotations

from bot.chaster import ChasterError, LockAction, LockActionName
from bot.chaster.state import LockState
from bot.core.chaster_errors import chaster_failed, chaster_refused
from bot.core.errors import Reason, Refused
from bot.core.state_view import StateView
from bot.core.text import same_task
from bot.store import PenaltyAction, SessionLink, Store

# How old a reading may be when the bot acts on it (start, complete, fail, and the check
# before an assign). Writes made the older readings stale already, and a webhook's read
# refreshes it; a change made in Chaster's app meanwhile takes a person longer than this.
ACT_FRESH_SECONDS = 2.0


def holds_lock(lock: LockState, keyholder_id: int, chaster_id: str | None = None) -> bool:
    """Whether Chaster shows this Discord user as the lock's keyholder: by their Discord id,
    or by the Chaster user a keyholder's link code proved them to be (`chaster_id`)."""
    if chaster_id is not None and lock.keyholder_chaster_id == chaster_id:
        return True
    return lock.keyholder_discord_id == str(keyholder_id)


def keyholder_of_record_holds(link: SessionLink) -> bool:
    """Whether the keyholder of record holds the lock in Chaster as last read (the sync keeps
    it up to date), or is the wearer of a self-lock: only then may the bot change the lock."""
    return link.keyholder_is_lock_keyholder is True or link.keyholder_id == link.wearer_id


def lock_action(action: PenaltyAction, seconds: int | None, reason: str | None) -> LockAction:
    """A consequence as the lock action Chaster runs."""
    name = LockActionName(action.value)
    if name is LockActionName.FREEZE:
        return LockAction(name)
    return LockAction(name, seconds, reason)


def link_holds_lock(lock: LockState, link: SessionLink) -> bool:
    """Whether the link's keyholder of record is the lock's keyholder in Chaster."""
    return holds_lock(lock, link.keyholder_id, link.keyholder_chaster_id)


class Locks:
    """The Chaster side of a link: its lock, and whether its keyholder of record holds it."""

    def __init__(self, store: Store, view: StateView) -> None:
        self._store = store
        self._view = view

    async def read(self, link: SessionLink, *, within: float = 0.0) -> LockState:
        """The link's lock, at most `within` seconds old, for a person waiting; Refused if
        Chaster can't say."""
        try:
            lock = (await self._view.read(link.chaster_session_id, within=within)).lock
        except ChasterError as error:
            if error.status == 404:
                raise Refused(Reason.SESSION_GONE) from None
            raise chaster_failed(error) from None
        await self.remember_keyholder(link, lock)
        return lock

    async def remember_keyholder(self, link: SessionLink, lock: LockState) -> None:
        """Keep the link's actor fact in step with the lock (its keyholder can change)."""
        holds = link_holds_lock(lock, link)
        if link.keyholder_is_lock_keyholder is not holds:
            await self._store.set_keyholder_is_lock_keyholder(link.id, holds)

    async def keyholder_holds_lock(self, link: SessionLink, lock: LockState | None = None) -> bool:
        """Whether the keyholder of record is the lock's keyholder in Chaster: from `lock`
        when given, else from the link's record, else from a fresh read."""
        if lock is not None:
            return link_holds_lock(lock, link)
        if link.keyholder_is_lock_keyholder is not None:
            return link.keyholder_is_lock_keyholder
        return link_holds_lock(await self.read(link), link)

    async def is_current(self, link: SessionLink, text: str) -> bool | None:
        """Whether Chaster's current task is the one with this text; None if it can't be read."""
        try:
            tasks = (await self._view.read(link.chaster_session_id)).lock.tasks
        except ChasterError:
            return None
        current = tasks.current_task if tasks is not None else None
        return current is not None and same_task(current.task, text)

    async def refusal_for(
        self, link: SessionLink, error: ChasterError, *, assigning: bool
    ) -> Refused:
        """Chaster refused a task action. Its 404 means either the session or the lock's Tasks
        extension is gone, in words that may not say which: read the session to tell."""
        if error.status != 404:
            return chaster_refused(error)
        try:
            lock = await self.read(link)
        except Refused as refusal:
            return refusal
        if lock.tasks is None:
            return Refused(
                Reason.NO_TASKS_EXTENSION_TRY_AGAIN
                if assigning
                else Reason.NO_TASKS_EXTENSION_ASSIGN_NEW
            )
        return chaster_refused(error)
