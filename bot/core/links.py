"""Links: a wearer's Chaster lock linked in one server, the wearer's consent when someone
other than the lock's keyholder asks, its expiry, and unlinking."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.chaster import ChasterClient, ChasterError, ExtensionSession, InvalidSessionId
from bot.chaster.state import LockState
from bot.core.chaster_errors import chaster_failed
from bot.core.errors import Codes, Consequence, Person, Reason, Refused, Typed
from bot.core.lock_defaults import LockDefaults
from bot.core.locks import holds_lock
from bot.core.model import Caller, CloseReason, LinkEvent, LinkEventKind, LinkOutcome
from bot.core.policy import Action, May, Role, require, role_of
from bot.core.shared import Part, Shared
from bot.store import (
    LinkExists,
    LinkRequest,
    LinkRequestNotPending,
    LinkRequestState,
    LockProof,
    SessionLink,
    Store,
)

LINK_REQUEST_TTL = timedelta(minutes=15)
# The two roles a link code proves (and a proof waits with).
WEARER = "wearer"
KEYHOLDER = "keyholder"
# A session id is quoted back in a refusal up to this length.
SESSION_ID_QUOTE = 80


class Links(Part):
    def __init__(
        self, store: Store, chaster: ChasterClient, shared: Shared, *, extension_slug: str
    ) -> None:
        super().__init__(store, chaster, shared)
        self._slug = extension_slug

    async def link(
        self, caller: Caller, wearer_id: int, session_id: str | None, channel_id: int
    ) -> LinkOutcome:
        """Link a Chaster session to `wearer_id` here, or ask the wearer to consent."""
        async with (
            self._audit.action(caller, "link", detail=f"wearer={wearer_id}") as audit,
            self._guards.of(caller.guild_id, wearer_id),
        ):
            if await self._store.get_open_link(caller.guild_id, wearer_id) is not None:
                raise Refused(Reason.ALREADY_LINKED, wearer=Person(wearer_id))
            session = await self._find_session(caller, wearer_id, session_id)
            lock, state = session.lock, LockState.of(session.lock)
            audit.detail += f" session={session.session_id}"
            if state.wearer_discord_id is not None and state.wearer_discord_id != str(wearer_id):
                raise Refused(Reason.LOCK_OF_SOMEONE_ELSE, wearer=Person(wearer_id))
            if state.tasks is None:
                raise Refused(Reason.LOCK_WITHOUT_TASKS)
            # A link code proves who is who where Chaster does not know their Discord account.
            keyholder_proof = await self._proven(caller, session, state, KEYHOLDER)
            wearer_proven = await self._proven(caller, session, state, WEARER, wearer_id)
            is_lock_keyholder = holds_lock(state, caller.user_id) or keyholder_proof is not None
            if not is_lock_keyholder and state.wearer_discord_id is None and not wearer_proven:
                # Nothing proves that this Discord user wears the lock: only the lock's own
                # keyholder (whose Discord id Chaster confirms) may link it.
                raise Refused(Reason.WEARER_NOT_ON_DISCORD)
            if is_lock_keyholder or (
                caller.user_id == wearer_id and state.keyholder_discord_id is None
            ):
                # The lock's keyholder, or the wearer of a self-lock, who manages their own
                # tasks here.
                role = Role.KEYHOLDER
            elif caller.user_id == wearer_id:
                role = Role.WEARER
            else:
                role = role_of(caller)
            granted = require(Action.LINK, role)
            if granted.may is May.YES:
                link = await create_link(
                    self._store,
                    guild_id=caller.guild_id,
                    wearer_id=wearer_id,
                    keyholder_id=caller.user_id,
                    session=session,
                    channel_id=channel_id,
                    now=self._clock(),
                    keyholder_chaster_id=keyholder_proof,
                )
                audit.link_id = link.id
                return LinkOutcome(link=link, request=None, lock_title=lock.title)
            now = self._clock()
            request = await self._store.create_link_request(
                guild_id=caller.guild_id,
                channel_id=channel_id,
                wearer_id=wearer_id,
                requested_by=caller.user_id,
                chaster_session_id=session.session_id,
                lock_id=lock.id,
                now=now,
                expires_at=now + LINK_REQUEST_TTL,
            )
            audit.detail += " pending-consent"
            await self._events.publish(LinkEvent(LinkEventKind.REQUESTED, request=request))
            return LinkOutcome(link=None, request=request, lock_title=lock.title)

    async def _proven(
        self,
        caller: Caller,
        session: ExtensionSession,
        state: LockState,
        role: str,
        user_id: int | None = None,
    ) -> str | None:
        """The Chaster user a link code proved `user_id` (the caller by default) to be, as the
        lock's `role` here, if that is still who the lock says."""
        proof = await standing_proof(
            self._store, caller.guild_id, session.session_id, state, role, now=self._clock()
        )
        if proof is None or proof.user_id != (user_id or caller.user_id):
            return None
        return proof.chaster_user_id

    async def _find_session(
        self, caller: Caller, wearer_id: int, session_id: str | None
    ) -> ExtensionSession:
        if session_id is not None:
            quoted = Typed(session_id, SESSION_ID_QUOTE)
            try:
                return await self._chaster.get_session(session_id.strip())
            except InvalidSessionId:
                raise Refused(Reason.INVALID_SESSION_ID, session_id=quoted) from None
            except ChasterError as error:
                if error.status == 404:
                    raise Refused(Reason.NO_SUCH_SESSION, session_id=quoted) from None
                raise chaster_failed(error, Consequence.NOTHING_LINKED) from None
        try:
            sessions = await self._chaster.search_sessions(self._slug, status="locked")
        except ChasterError as error:
            raise chaster_failed(error, Consequence.NOTHING_LINKED) from None
        mine = [s for s in sessions if s.lock.user.discord_id == str(wearer_id)]
        if not mine:
            # A wearer Chaster does not know on Discord, whose link code was typed here.
            proof = await self._store.proof_of_user(
                caller.guild_id, wearer_id, WEARER, now=self._clock()
            )
            if proof is not None:
                mine = [s for s in sessions if s.session_id == proof.chaster_session_id]
        if not mine:
            raise Refused(Reason.NO_LOCKED_SESSION, wearer=Person(wearer_id))
        if len(mine) > 1:
            raise Refused(
                Reason.SEVERAL_SESSIONS,
                wearer=Person(wearer_id),
                sessions=Codes(tuple(s.session_id for s in mine[:5])),
            )
        return mine[0]

    async def request_for_message(self, message_id: int) -> LinkRequest | None:
        return await self._store.get_link_request_by_message(message_id)

    async def attach_request_message(self, request_id: int, message_id: int) -> LinkRequest:
        return await self._store.set_link_request_message(request_id, message_id)

    async def cancel_request(self, request_id: int) -> None:
        """Withdraw a request that could not be shown to the wearer (no message was posted)."""
        await self._store.resolve_link_request(
            request_id, LinkRequestState.CANCELLED, now=self._clock()
        )

    async def confirm(self, caller: Caller, request: LinkRequest) -> SessionLink:
        """The wearer's ✅ on a link request: the requester becomes keyholder of record."""
        async with (
            self._audit.action(caller, "link.confirm", detail=f"request={request.id}") as audit,
            self._guards.of(request.guild_id, request.wearer_id),
        ):
            named = caller.guild_id == request.guild_id and caller.user_id == request.wearer_id
            require(Action.ACCEPT_LINK, Role.WEARER if named else Role.ANYONE)
            now = self._clock()
            if request.state is not LinkRequestState.PENDING:
                raise Refused(Reason.LINK_REQUEST_RESOLVED, state=request.state)
            if request.expires_at <= now:
                # The same path as the expiry timer, so the request message says so too.
                await self.expire_request(request.id)
                raise Refused(Reason.LINK_REQUEST_EXPIRED)
            try:
                link = await self._store.accept_link_request(request.id, now=now)
            except LinkRequestNotPending:
                raise Refused(Reason.LINK_REQUEST_NOT_PENDING) from None
            except LinkExists:
                raise Refused(Reason.YOU_ARE_ALREADY_LINKED) from None
            audit.link_id = link.id
            return link

    async def decline(self, caller: Caller, request: LinkRequest) -> LinkRequest:
        """The wearer's "no" to a link request: it is withdrawn and the requester is told."""
        async with (
            self._audit.action(caller, "link.decline", detail=f"request={request.id}"),
            self._guards.of(request.guild_id, request.wearer_id),
        ):
            named = caller.guild_id == request.guild_id and caller.user_id == request.wearer_id
            require(Action.DECLINE_LINK, Role.WEARER if named else Role.ANYONE)
            if request.state is not LinkRequestState.PENDING:
                raise Refused(Reason.LINK_REQUEST_RESOLVED, state=request.state)
            declined = await self._store.resolve_link_request(
                request.id, LinkRequestState.CANCELLED, now=self._clock()
            )
            if declined is None:
                # Accepted or expired since it was read.
                raise Refused(Reason.LINK_REQUEST_NOT_PENDING)
            await self._events.publish(
                LinkEvent(
                    LinkEventKind.REQUEST_DECLINED,
                    request=declined,
                    channel_id=declined.channel_id,
                )
            )
            return declined

    async def request(self, request_id: int) -> LinkRequest | None:
        return await self._store.get_link_request(request_id)

    async def expire_request(self, request_id: int) -> LinkRequest | None:
        """A link request reached its expiry without the wearer's consent."""
        request = await self._store.get_link_request(request_id)
        if request is None or request.expires_at > self._clock():
            return None
        expired = await self._store.resolve_link_request(
            request_id, LinkRequestState.EXPIRED, now=self._clock()
        )
        if expired is not None:
            await self._events.publish(
                LinkEvent(
                    LinkEventKind.REQUEST_EXPIRED, request=expired, channel_id=expired.channel_id
                )
            )
        return expired

    async def unlink(self, caller: Caller, wearer_id: int) -> SessionLink:
        """Close the wearer's link: the keyholder of record, the wearer or a manager may.

        A manager may because links are this server's business (say, after the keyholder left
        it), and unlinking changes nothing in Chaster.
        """
        async with (
            self._audit.action(caller, "unlink", detail=f"wearer={wearer_id}") as audit,
            self._guards.of(caller.guild_id, wearer_id),
        ):
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            require(Action.UNLINK, role_of(caller, link))
            closed = await self._store.close_link(
                link.id, closed_by=caller.user_id, reason=CloseReason.UNLINKED, now=self._clock()
            )
            if closed is None:
                raise Refused(Reason.NOT_LINKED, wearer=Person(wearer_id))
            return closed


async def standing_proof(
    store: Store, guild_id: int, session_id: str, lock: LockState, role: str, *, now: datetime
) -> LockProof | None:
    """The proof of `role` waiting in this server for the session, while the lock still says
    that Chaster user holds that role (a lock can change hands meanwhile)."""
    proof = await store.proof(guild_id, session_id, role, now=now)
    holder = lock.keyholder_chaster_id if role == KEYHOLDER else lock.wearer_chaster_id
    return proof if proof is not None and proof.chaster_user_id == holder else None


async def create_link(
    store: Store,
    *,
    guild_id: int,
    wearer_id: int,
    keyholder_id: int,
    session: ExtensionSession,
    channel_id: int,
    now: datetime,
    keyholder_chaster_id: str | None = None,
) -> SessionLink:
    """Record a link, with what the lock's keyholder chose on its configuration page;
    `keyholder_chaster_id` is who a keyholder's link code proved the keyholder of record to be."""
    lock = LockState.of(session.lock)
    try:
        return await store.create_link(
            guild_id=guild_id,
            wearer_id=wearer_id,
            keyholder_id=keyholder_id,
            chaster_session_id=session.session_id,
            lock_id=session.lock.id,
            now=now,
            channel_id=channel_id,
            keyholder_is_lock_keyholder=holds_lock(lock, keyholder_id, keyholder_chaster_id),
            keyholder_chaster_id=keyholder_chaster_id,
            defaults=LockDefaults.from_config(session.config).for_link(),
        )
    except LinkExists:
        raise Refused(Reason.ALREADY_LINKED, wearer=Person(wearer_id)) from None


async def wearer_meant(store: Store, caller: Caller, wearer_id: int | None) -> int:
    """The wearer a command is about when it names none: the caller, if they are linked here
    as a wearer, else the one wearer they are keyholder of record of here; Refused when they
    hold several (which one is meant cannot be guessed)."""
    if wearer_id is not None:
        return wearer_id
    if await store.get_open_link(caller.guild_id, caller.user_id) is not None:
        return caller.user_id
    held = await store.open_links_held_by(caller.guild_id, caller.user_id)
    if len(held) > 1:
        raise Refused(Reason.NAME_THE_WEARER, count=len(held))
    return held[0].wearer_id if held else caller.user_id


async def open_link(store: Store, guild_id: int, wearer_id: int) -> SessionLink:
    """The wearer's open link in the server; Refused when there is none."""
    link = await store.get_open_link(guild_id, wearer_id)
    if link is None:
        raise Refused(Reason.NOT_LINKED_USE_LINK, wearer=Person(wearer_id))
    return link
