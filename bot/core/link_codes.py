"""Linking by a one-time code: the extension's main page in Chaster shows its wearer or
keyholder a short code, and typing it in `/link code:` proves who they are in Chaster without
Chaster's Discord connection.

A wearer's code links the lock with the typist as its wearer, once its keyholder of record is
known (the lock's keyholder by their Discord id, or by their own code; a self-lock's wearer is
their own). A keyholder's code makes the typist the keyholder of record of the lock here, acting
as `keyholder` in Chaster. Whichever code comes first waits for the other (`lock_proofs`).

Only a keyed hash of each code is stored. Misses (an unknown, used or expired code) are
counted per person: after `MISSES_ALLOWED` in `MISS_WINDOW` the person waits, correct code or
not, so guessing one of the live codes is hopeless (31^6 codes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.chaster import ChasterClient, ChasterError, ExtensionSession
from bot.chaster.state import LockState
from bot.core.chaster_errors import chaster_failed
from bot.core.errors import Consequence, Person, Reason, Refused
from bot.core.links import KEYHOLDER, WEARER, create_link, standing_proof
from bot.core.model import Caller
from bot.core.shared import Part, Shared
from bot.store import LinkCode, SessionLink, Store

CODE_TTL = timedelta(minutes=15)
# How long a proof waits for the other party of the link.
PROOF_TTL = timedelta(hours=24)
MISSES_ALLOWED = 5
MISS_WINDOW = timedelta(minutes=10)
# No 0/O, 1/I/L: a code is read off one screen and typed on another.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6


class CodeResult(StrEnum):
    LINKED = "linked"
    KEYHOLDER_SET = "keyholder-set"
    WAITING_FOR_KEYHOLDER = "waiting-for-keyholder"
    WAITING_FOR_WEARER = "waiting-for-wearer"


@dataclass(frozen=True)
class CodeOutcome:
    result: CodeResult
    lock_title: str | None
    link: SessionLink | None = None


def shown(code: str) -> str:
    """`7QK4MX` -> `7QK-4MX`."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normalised(typed: str) -> str:
    """What was typed, without spaces or dashes, in capitals."""
    return "".join(char for char in typed.upper() if char.isalnum())[:32]


class LinkCodes(Part):
    def __init__(
        self,
        store: Store,
        chaster: ChasterClient,
        shared: Shared,
        *,
        key: bytes,
    ) -> None:
        super().__init__(store, chaster, shared)
        # Codes are stored as keyed hashes: a copy of the database gives no working code.
        self._key = key

    def _hash(self, code: str) -> str:
        return hmac.new(self._key, code.encode(), hashlib.sha256).hexdigest()

    async def issue(self, session: ExtensionSession, role: str, chaster_user_id: str) -> str:
        """A new code for whoever opened the main page; earlier unused ones of the same
        session and role stop working. Returns the code as shown (`7QK-4MX`)."""
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        now = self._clock()
        await self._store.issue_link_code(
            code_hash=self._hash(code),
            chaster_session_id=session.session_id,
            lock_id=session.lock.id,
            role=role,
            chaster_user_id=chaster_user_id,
            now=now,
            expires_at=now + CODE_TTL,
        )
        return shown(code)

    async def redeem(self, caller: Caller, typed: str, channel_id: int) -> CodeOutcome:
        """`/link code:`: prove the caller is the lock's wearer or keyholder, and link."""
        async with self._audit.action(caller, "link.code") as audit:
            code = await self._valid_code(caller, typed)
            audit.detail = f"role={code.role} session={code.chaster_session_id}"
            session = await self._session(code.chaster_session_id)
            lock = LockState.of(session.lock)
            self._require_still_theirs(code, lock)
            if code.role == WEARER:
                async with self._guards.of(caller.guild_id, caller.user_id):
                    outcome = await self._wearer(caller, code, session, lock, channel_id)
            else:
                outcome = await self._keyholder(caller, code, session, lock, channel_id)
            if outcome.link is not None:
                audit.link_id = outcome.link.id
            audit.detail += f" {outcome.result.value}"
            return outcome

    async def _valid_code(self, caller: Caller, typed: str) -> LinkCode:
        """The live code typed; a miss is counted and refused, saying how many are left."""
        now = self._clock()
        misses = await self._store.link_code_misses(caller.user_id, since=now - MISS_WINDOW)
        if len(misses) >= MISSES_ALLOWED:
            raise Refused(Reason.LINK_CODE_TOO_MANY, at=misses[0] + MISS_WINDOW)
        code = normalised(typed)
        found = await self._store.get_link_code(self._hash(code)) if code else None
        reason = None
        if found is None:
            reason = Reason.LINK_CODE_UNKNOWN
        elif found.used_at is not None:
            reason = Reason.LINK_CODE_USED
        elif found.expires_at <= now:
            reason = Reason.LINK_CODE_EXPIRED
        if reason is not None or found is None:
            await self._store.record_link_code_miss(
                caller.user_id, now=now, forget_before=now - MISS_WINDOW
            )
            left = MISSES_ALLOWED - len(misses) - 1
            raise Refused(reason or Reason.LINK_CODE_UNKNOWN, count=left)
        return found

    async def _session(self, session_id: str) -> ExtensionSession:
        try:
            return await self._chaster.get_session(session_id)
        except ChasterError as error:
            if error.status == 404:
                raise Refused(Reason.SESSION_GONE) from None
            raise chaster_failed(error, Consequence.NOTHING_LINKED) from None

    @staticmethod
    def _require_still_theirs(code: LinkCode, lock: LockState) -> None:
        if lock.ended:
            raise Refused(Reason.LOCK_ENDED)
        if lock.tasks is None:
            raise Refused(Reason.LOCK_WITHOUT_TASKS)
        holder = lock.wearer_chaster_id if code.role == WEARER else lock.keyholder_chaster_id
        if holder != code.chaster_user_id:
            # The lock changed hands since the page was opened.
            raise Refused(Reason.LINK_CODE_STALE)

    async def _use(self, caller: Caller, code: LinkCode) -> None:
        used = await self._store.use_link_code(
            code.code_hash, user_id=caller.user_id, guild_id=caller.guild_id, now=self._clock()
        )
        if not used:
            # Used by someone else a moment ago (or expired meanwhile): not a guess.
            misses = await self._store.link_code_misses(
                caller.user_id, since=self._clock() - MISS_WINDOW
            )
            raise Refused(Reason.LINK_CODE_USED, count=MISSES_ALLOWED - len(misses))

    async def _wearer(
        self,
        caller: Caller,
        code: LinkCode,
        session: ExtensionSession,
        lock: LockState,
        channel_id: int,
    ) -> CodeOutcome:
        await self._require_free_here(caller, session.session_id, wearer_id=caller.user_id)
        title = session.lock.title
        now = self._clock()
        keyholder_id: int | None = None
        chaster_keyholder: str | None = None
        if lock.keyholder_chaster_id is None:
            keyholder_id = caller.user_id  # a self-lock: its wearer is their own keyholder
        elif lock.keyholder_discord_id is not None:
            keyholder_id = int(lock.keyholder_discord_id)
        else:
            proof = await standing_proof(
                self._store, caller.guild_id, session.session_id, lock, KEYHOLDER, now=now
            )
            if proof is not None:
                keyholder_id, chaster_keyholder = proof.user_id, proof.chaster_user_id
        await self._use(caller, code)
        if keyholder_id is None:
            await self._prove(caller, code, WEARER)
            return CodeOutcome(CodeResult.WAITING_FOR_KEYHOLDER, title)
        link = await self._link(
            caller, session, caller.user_id, keyholder_id, chaster_keyholder, channel_id
        )
        return CodeOutcome(CodeResult.LINKED, title, link)

    async def _keyholder(
        self,
        caller: Caller,
        code: LinkCode,
        session: ExtensionSession,
        lock: LockState,
        channel_id: int,
    ) -> CodeOutcome:
        title = session.lock.title
        here = [
            link
            for link in await self._store.open_links_for_session(session.session_id)
            if link.guild_id == caller.guild_id
        ]
        if here:
            link = here[0]
            if link.wearer_id == caller.user_id:
                # The wearer cannot be their own keyholder of record on a keyholder's lock.
                raise Refused(Reason.LOCK_LINKED_TO_SOMEONE_ELSE)
            async with self._guards.of(caller.guild_id, link.wearer_id):
                await self._use(caller, code)
                changed = await self._store.set_keyholder_of_record(
                    link.id,
                    keyholder_id=caller.user_id,
                    keyholder_chaster_id=code.chaster_user_id,
                )
            if changed is None:
                raise Refused(Reason.NOT_LINKED, wearer=Person(link.wearer_id))
            return CodeOutcome(CodeResult.KEYHOLDER_SET, title, changed)
        proof = await standing_proof(
            self._store, caller.guild_id, session.session_id, lock, WEARER, now=self._clock()
        )
        await self._use(caller, code)
        if proof is None:
            await self._prove(caller, code, KEYHOLDER)
            return CodeOutcome(CodeResult.WAITING_FOR_WEARER, title)
        link = await self._link(
            caller, session, proof.user_id, caller.user_id, code.chaster_user_id, channel_id
        )
        return CodeOutcome(CodeResult.LINKED, title, link)

    async def _require_free_here(self, caller: Caller, session_id: str, *, wearer_id: int) -> None:
        if await self._store.get_open_link(caller.guild_id, wearer_id) is not None:
            raise Refused(Reason.YOU_ARE_ALREADY_LINKED)
        for link in await self._store.open_links_for_session(session_id):
            if link.guild_id == caller.guild_id:
                raise Refused(Reason.LOCK_LINKED_TO_SOMEONE_ELSE)

    async def _prove(self, caller: Caller, code: LinkCode, role: str) -> None:
        now = self._clock()
        await self._store.prove(
            guild_id=caller.guild_id,
            chaster_session_id=code.chaster_session_id,
            role=role,
            user_id=caller.user_id,
            chaster_user_id=code.chaster_user_id,
            now=now,
            expires_at=now + PROOF_TTL,
        )

    async def _link(
        self,
        caller: Caller,
        session: ExtensionSession,
        wearer_id: int,
        keyholder_id: int,
        keyholder_chaster_id: str | None,
        channel_id: int,
    ) -> SessionLink:
        return await create_link(
            self._store,
            guild_id=caller.guild_id,
            wearer_id=wearer_id,
            keyholder_id=keyholder_id,
            session=session,
            channel_id=channel_id,
            now=self._clock(),
            keyholder_chaster_id=keyholder_chaster_id,
        )
