"""Consequences as the keyholder sets them: what happens to the lock in Chaster when one of
the wearer's tasks fails or misses its deadline, and when the wearer is reminded of a deadline.
Only the lock's own keyholder in Chaster (or the wearer of a self-lock) sets consequences: a
keyholder of record by consent cannot change a lock that is not theirs."""

from __future__ import annotations

from typing import TypeVar

from bot.chaster import ChasterClient
from bot.core.durations import optional_span, parse_span
from bot.core.errors import Codes, Person, Reason, Refused
from bot.core.links import open_link, wearer_meant
from bot.core.locks import ACT_FRESH_SECONDS, Locks, link_holds_lock
from bot.core.model import Caller
from bot.core.policy import Action, Condition, require, role_of
from bot.core.shared import Part, Shared
from bot.core.text import checked_reason
from bot.store import Penalty, PenaltyAction, PenaltyOn, SessionLink, Store

ALL = "all"


class Penalties(Part):
    def __init__(
        self, store: Store, chaster: ChasterClient, shared: Shared, *, locks: Locks
    ) -> None:
        super().__init__(store, chaster, shared)
        self._locks = locks

    async def set(
        self,
        caller: Caller,
        wearer_id: int | None,
        *,
        on: str,
        action: str,
        amount: str | None = None,
        reason: str | None = None,
    ) -> tuple[SessionLink, Penalty]:
        """Set the wearer's consequence for a failed task or a missed deadline: only the
        keyholder of record who holds the lock in Chaster (or the wearer of a self-lock)."""
        async with self._audit.action(
            caller, "penalty.set", detail=f"wearer={wearer_id} on={on} action={action}"
        ) as audit:
            occasion = _choice(tuple(PenaltyOn), on)
            kind = _choice(tuple(PenaltyAction), action)
            seconds = optional_span(amount)
            if kind is PenaltyAction.FREEZE and seconds is not None:
                raise Refused(Reason.PENALTY_TAKES_NO_AMOUNT, action=kind.value)
            if kind is not PenaltyAction.FREEZE and seconds is None:
                raise Refused(Reason.PENALTY_NEEDS_AMOUNT, action=kind.value)
            text = checked_reason(reason)
            if text is not None and kind is not PenaltyAction.PILLORY:
                raise Refused(Reason.PENALTY_REASON_PILLORY_ONLY)
            wearer_id = await wearer_meant(self._store, caller, wearer_id)
            audit.detail = f"wearer={wearer_id} on={on} action={action}"
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            await self._require_lock_keyholder(caller, link, pillory=kind is PenaltyAction.PILLORY)
            return link, await self._store.set_penalty(
                link.id,
                occasion,
                kind,
                seconds=seconds,
                reason=text,
                set_by=caller.user_id,
                now=self._clock(),
            )

    async def clear(
        self, caller: Caller, wearer_id: int | None, on: str
    ) -> tuple[SessionLink, int]:
        """Remove the wearer's consequences for `on` ("fail", "deadline" or "all")."""
        async with self._audit.action(
            caller, "penalty.clear", detail=f"wearer={wearer_id} on={on}"
        ) as audit:
            ons = list(PenaltyOn) if on == ALL else [_choice(tuple(PenaltyOn), on, also=(ALL,))]
            wearer_id = await wearer_meant(self._store, caller, wearer_id)
            audit.detail = f"wearer={wearer_id} on={on}"
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            await self._require_lock_keyholder(caller, link, pillory=False)
            return link, await self._store.clear_penalties(link.id, ons)

    async def remind(self, caller: Caller, wearer_id: int | None, before: str) -> SessionLink:
        """How long before a deadline the wearer is reminded (keyholder of record)."""
        async with self._audit.action(
            caller, "penalty.remind", detail=f"wearer={wearer_id} before={before[:20]}"
        ) as audit:
            seconds = parse_span(before)
            wearer_id = await wearer_meant(self._store, caller, wearer_id)
            audit.detail = f"wearer={wearer_id} before={before[:20]}"
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            # The reminder changes nothing in Chaster: any keyholder of record may set it, as
            # they may schedule tasks.
            require(Action.SCHEDULE, role_of(caller, link))
            return await self._store.set_remind_before(link.id, seconds)

    async def of_wearer(self, caller: Caller, wearer_id: int) -> tuple[SessionLink, list[Penalty]]:
        """The wearer's consequences (wearer and keyholder of record)."""
        link = await open_link(self._store, caller.guild_id, wearer_id)
        require(Action.STATUS, role_of(caller, link))
        return link, await self._store.penalties_of(link.id)

    async def _require_lock_keyholder(
        self, caller: Caller, link: SessionLink, *, pillory: bool
    ) -> None:
        granted = require(Action.PENALTY, role_of(caller, link))
        if granted.condition is not Condition.HOLDS_THE_LOCK:
            return
        lock = await self._locks.read(link, within=ACT_FRESH_SECONDS)
        own_self_lock = link.keyholder_id == link.wearer_id and lock.keyholder_discord_id is None
        # As for /link, a lock whose keyholder has no Discord account on Chaster counts as
        # the wearer's own.
        if not own_self_lock and not link_holds_lock(lock, link):
            raise Refused(Reason.ONLY_LOCK_KEYHOLDER_PENALTIES, keyholder=Person(link.keyholder_id))
        if pillory and not lock.has_pillory:
            raise Refused(Reason.PILLORY_MISSING)


_Choice = TypeVar("_Choice", PenaltyOn, PenaltyAction)


def _choice(members: tuple[_Choice, ...], value: str, *, also: tuple[str, ...] = ()) -> _Choice:
    """The option's value as one of `members`; Refused, naming the choices, for anything else."""
    for member in members:
        if member.value == value:
            return member
    names = (*(member.value for member in members), *also)
    raise Refused(Reason.UNKNOWN_PENALTY, input=value[:40], choices=Codes(names))
