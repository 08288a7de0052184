"""Links: /link by the lock's keyholder or the wearer, the wearer's consent when someone else
asks, a request's expiry, and /unlink."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.errors import (
    ChasterRefused,
    Codes,
    Consequence,
    NotAllowed,
    Person,
    Phrase,
    Reason,
    Refused,
    Trouble,
    Typed,
)
from bot.core.links import LINK_REQUEST_TTL
from bot.core.model import Caller, LinkEventKind
from bot.store import LinkRequestState, SessionLink
from tests.core_env import (
    ADMIN,
    CHANNEL,
    GUILD,
    KEYHOLDER,
    KH,
    MANAGER,
    OTHER,
    OTHER_GUILD,
    SLUG,
    STRANGER,
    WEARER,
    WR,
    CoreEnv,
    refused,
)

# ---------------------------------------------------------------------------------- /link


async def test_keyholder_links_at_once(env: CoreEnv) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(KH, WEARER, f"  {session.session_id} ", CHANNEL)
    assert outcome.request is None
    assert outcome.link is not None
    assert outcome.lock_title == "Keyholder lock"
    link = outcome.link
    assert (link.guild_id, link.wearer_id, link.keyholder_id) == (GUILD, WEARER, KEYHOLDER)
    assert link.chaster_session_id == session.session_id
    assert link.lock_id == session.lock_id
    assert await env.store.get_open_link(GUILD, WEARER) == link
    assert [(c.method, c.path) for c in env.fake.calls] == [
        ("GET", f"/api/extensions/sessions/{session.session_id}")
    ]
    assert await env.store.pending_link_requests() == []
    assert env.feed.link_events == []


async def test_link_without_session_id_searches_every_page_of_locked_sessions(
    env: CoreEnv,
) -> None:
    for n in range(120):
        env.fake.add_session(wearer_discord_id=str(WEARER + 1 + n))
    env.fake.add_session(wearer_discord_id=str(WEARER), status="unlocked")
    mine = env.add_lock()  # created last: on the second page
    outcome = await env.core.links.link(KH, WEARER, None, CHANNEL)
    assert outcome.link is not None
    assert outcome.link.chaster_session_id == mine.session_id
    assert outcome.link.keyholder_id == KEYHOLDER
    searches = [c for c in env.fake.calls if c.path.endswith("/sessions/search")]
    assert len(searches) >= 2
    for call in searches:
        assert call.method == "POST"
        assert call.json["status"] == "locked"
        assert call.json["extensionSlug"] == SLUG


async def test_link_search_finds_nothing(env: CoreEnv) -> None:
    env.fake.add_session(wearer_discord_id=str(STRANGER))
    env.fake.add_session(wearer_discord_id=str(WEARER), status="deserted")
    with refused(Reason.NO_LOCKED_SESSION, wearer=Person(WEARER)):
        await env.core.links.link(KH, WEARER, None, CHANNEL)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert await env.store.pending_link_requests() == []


async def test_link_search_with_several_sessions_asks_for_the_id(env: CoreEnv) -> None:
    first, second = env.add_lock(), env.add_lock()
    with refused(
        Reason.SEVERAL_SESSIONS,
        wearer=Person(WEARER),
        # In the order Chaster's search gives them: newest first.
        sessions=Codes((second.session_id, first.session_id)),
    ):
        await env.core.links.link(KH, WEARER, None, CHANNEL)
    assert await env.store.get_open_link(GUILD, WEARER) is None


async def test_link_refuses_a_lock_of_someone_else(env: CoreEnv) -> None:
    session = env.add_lock(wearer_discord_id=str(STRANGER))
    with refused(Reason.LOCK_OF_SOMEONE_ELSE, wearer=Person(WEARER)):
        await env.core.links.link(KH, WEARER, session.session_id, CHANNEL)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert await env.store.pending_link_requests() == []


async def test_link_accepts_a_lock_whose_wearer_has_no_discord(env: CoreEnv) -> None:
    session = env.add_lock(wearer_discord_id=None)
    outcome = await env.core.links.link(KH, WEARER, session.session_id, CHANNEL)
    assert outcome.link is not None
    assert await env.store.get_open_link(GUILD, WEARER) == outcome.link


async def test_link_refuses_a_lock_without_tasks(env: CoreEnv) -> None:
    session = env.add_lock(tasks_extension=False)
    with refused(Reason.LOCK_WITHOUT_TASKS):
        await env.core.links.link(KH, WEARER, session.session_id, CHANNEL)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert await env.store.pending_link_requests() == []


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "x" * 65, "abc def", "abc?x=1", "%2e%2e", "   "])
async def test_link_refuses_a_malformed_session_id_without_calling_chaster(
    env: CoreEnv, bad_id: str
) -> None:
    env.add_lock()
    with refused(Reason.INVALID_SESSION_ID, session_id=Typed(bad_id, 80)):
        await env.core.links.link(KH, WEARER, bad_id, CHANNEL)
    assert env.fake.calls == []
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert await env.audit() == [("link", "refused")]


async def test_link_refuses_an_unknown_session(env: CoreEnv) -> None:
    with refused(Reason.NO_SUCH_SESSION, session_id=Typed("NoSuchSession123", 80)):
        await env.core.links.link(KH, WEARER, "NoSuchSession123", CHANNEL)
    assert await env.store.get_open_link(GUILD, WEARER) is None


async def test_link_reports_chaster_errors_in_chasters_words(env: CoreEnv) -> None:
    session = env.add_lock()
    env.fake.fail_next("GET", "/sessions/", 500, "The hamsters are tired")
    with refused(
        Reason.CHASTER_UNAVAILABLE,
        ChasterRefused,
        trouble=Phrase(Trouble.SERVER_ERROR, {"status": 500, "message": "The hamsters are tired"}),
        consequence=Phrase(Consequence.NOTHING_LINKED, {}),
    ) as caught:
        await env.core.links.link(KH, WEARER, session.session_id, CHANNEL)
    assert isinstance(caught.value, ChasterRefused)
    assert caught.value.chaster_message == "The hamsters are tired"
    assert caught.value.status == 500
    assert await env.store.get_open_link(GUILD, WEARER) is None


async def test_one_link_per_wearer_per_server(env: CoreEnv) -> None:
    first = await env.linked()
    again = env.add_lock()
    with refused(Reason.ALREADY_LINKED, wearer=Person(WEARER)):
        await env.core.links.link(KH, WEARER, again.session_id, CHANNEL)
    assert env.fake.calls == []
    assert await env.store.open_links(GUILD) == [first]
    # Another server links the same wearer independently.
    elsewhere = await env.core.links.link(
        Caller(KEYHOLDER, OTHER_GUILD), WEARER, again.session_id, CHANNEL
    )
    assert elsewhere.link is not None
    assert elsewhere.link.guild_id == OTHER_GUILD
    assert await env.store.open_links(GUILD) == [first]


async def test_wearer_links_own_self_lock_at_once(env: CoreEnv) -> None:
    session = env.add_lock(keyholder=False)
    outcome = await env.core.links.link(WR, WEARER, session.session_id, CHANNEL)
    assert outcome.request is None
    assert outcome.link is not None
    assert outcome.link.keyholder_id == WEARER


async def test_wearer_cannot_link_self_when_the_lock_has_a_keyholder(env: CoreEnv) -> None:
    session = env.add_lock()
    with refused(Reason.LOCK_HAS_KEYHOLDER, NotAllowed):
        await env.core.links.link(WR, WEARER, session.session_id, CHANNEL)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert await env.store.pending_link_requests() == []


# ---------------------------------------------------------------------------------- consent


async def test_link_by_someone_else_needs_the_wearers_consent(env: CoreEnv) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.link is None
    request = outcome.request
    assert request is not None
    assert request.state is LinkRequestState.PENDING
    assert (request.guild_id, request.channel_id) == (GUILD, CHANNEL)
    assert (request.wearer_id, request.requested_by) == (WEARER, STRANGER)
    assert request.expires_at == env.clock.now() + LINK_REQUEST_TTL
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert [(e.kind, e.request) for e in env.feed.link_events] == [
        (LinkEventKind.REQUESTED, request)
    ]

    # The consent message carries the request; the wearer's ✅ on it confirms.
    await env.core.links.attach_request_message(request.id, 4242)
    found = await env.core.links.request_for_message(4242)
    assert found is not None and found.id == request.id
    env.advance(14 * 60 + 59)
    link = await env.core.links.confirm(WR, found)
    assert link.keyholder_id == STRANGER
    assert link.chaster_session_id == session.session_id
    assert await env.store.get_open_link(GUILD, WEARER) == link
    accepted = await env.store.get_link_request(request.id)
    assert accepted is not None and accepted.state is LinkRequestState.ACCEPTED
    assert await env.audit() == [("link", "ok"), ("link.confirm", "ok")]


@pytest.mark.parametrize(
    "caller",
    [OTHER, KH, Caller(WEARER, OTHER_GUILD), Caller(ADMIN, GUILD, can_manage_guild=True)],
    ids=["requester", "chaster-keyholder", "wearer-in-other-server", "admin"],
)
async def test_only_the_wearer_confirms_a_link_request(env: CoreEnv, caller: Caller) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    with refused(Reason.ONLY_NAMED_WEARER_ACCEPTS, NotAllowed):
        await env.core.links.confirm(caller, outcome.request)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    pending = await env.store.get_link_request(outcome.request.id)
    assert pending is not None and pending.state is LinkRequestState.PENDING


async def test_an_expired_link_request_is_refused_and_marked_expired(env: CoreEnv) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    env.advance(15 * 60 + 1)
    with refused(Reason.LINK_REQUEST_EXPIRED):
        await env.core.links.confirm(WR, outcome.request)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    expired = await env.store.get_link_request(outcome.request.id)
    assert expired is not None and expired.state is LinkRequestState.EXPIRED
    # The same path as the expiry timer: the request's message is told it expired.
    assert [(e.kind, e.request) for e in env.feed.link_events] == [
        (LinkEventKind.REQUESTED, outcome.request),
        (LinkEventKind.REQUEST_EXPIRED, expired),
    ]
    assert env.feed.link_events[-1].channel_id == CHANNEL


async def test_a_double_confirm_makes_one_link(env: CoreEnv) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    await env.core.links.confirm(WR, outcome.request)
    # The same (now stale) request again: the store knows it is no longer pending.
    with refused(Reason.LINK_REQUEST_NOT_PENDING):
        await env.core.links.confirm(WR, outcome.request)
    assert await env.count("session_links") == 1


async def test_concurrent_confirms_make_one_link(env: CoreEnv) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    results = await asyncio.gather(
        env.core.links.confirm(WR, outcome.request),
        env.core.links.confirm(WR, outcome.request),
        return_exceptions=True,
    )
    [won] = [r for r in results if isinstance(r, SessionLink)]
    [lost] = [r for r in results if isinstance(r, BaseException)]
    assert type(lost) is Refused, lost
    assert lost.reason is Reason.LINK_REQUEST_NOT_PENDING, lost
    assert await env.count("session_links") == 1
    assert await env.store.get_open_link(GUILD, WEARER) == won


async def test_confirm_is_refused_when_the_wearer_got_linked_meanwhile(env: CoreEnv) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    direct = await env.core.links.link(KH, WEARER, session.session_id, CHANNEL)
    assert direct.link is not None
    with refused(Reason.YOU_ARE_ALREADY_LINKED):
        await env.core.links.confirm(WR, outcome.request)
    assert await env.store.open_links(GUILD) == [direct.link]


# ---------------------------------------------------------------------------------- /unlink


@pytest.mark.parametrize("caller", [KH, WR, MANAGER], ids=["keyholder", "wearer", "manager"])
async def test_keyholder_wearer_or_manager_unlinks(env: CoreEnv, caller: Caller) -> None:
    link = await env.linked()
    closed = await env.core.links.unlink(caller, WEARER)
    assert closed.id == link.id
    assert closed.closed_by == caller.user_id
    assert not closed.is_open
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert env.fake.calls == []


ELSEWHERE_NOT_LINKED = {"wearer": Person(WEARER)}


@pytest.mark.parametrize(
    ("caller", "error", "reason", "params"),
    [
        (OTHER, NotAllowed, Reason.ONLY_INVOLVED_UNLINK, {}),
        # In another server the wearer is simply not linked: this server's link stays unseen.
        (
            Caller(KEYHOLDER, OTHER_GUILD, can_manage_guild=True),
            Refused,
            Reason.NOT_LINKED_USE_LINK,
            ELSEWHERE_NOT_LINKED,
        ),
        (Caller(WEARER, OTHER_GUILD), Refused, Reason.NOT_LINKED_USE_LINK, ELSEWHERE_NOT_LINKED),
    ],
    ids=["stranger", "keyholder-managing-elsewhere", "wearer-elsewhere"],
)
async def test_nobody_else_unlinks(
    env: CoreEnv,
    caller: Caller,
    error: type[Refused],
    reason: Reason,
    params: dict[str, Person],
) -> None:
    link = await env.linked()
    with refused(reason, error, **params):
        await env.core.links.unlink(caller, WEARER)
    assert await env.store.get_open_link(GUILD, WEARER) == link
    assert (await env.audit())[-1] == ("unlink", "refused")


# ---------------------------------------------------------------------------------- decline


async def test_the_wearer_declines_a_link_request(env: CoreEnv) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    env.fake.calls.clear()
    declined = await env.core.links.decline(WR, outcome.request)
    assert declined.state is LinkRequestState.CANCELLED
    assert declined.resolved_at == env.clock.now()
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert env.fake.calls == []
    # The requester is told through the request's message.
    assert [(e.kind, e.request) for e in env.feed.link_events][-1] == (
        LinkEventKind.REQUEST_DECLINED,
        declined,
    )
    assert env.feed.link_events[-1].channel_id == CHANNEL
    # A declined request can no longer be accepted, nor declined again.
    with refused(Reason.LINK_REQUEST_RESOLVED, state=LinkRequestState.CANCELLED):
        await env.core.links.confirm(WR, declined)
    with refused(Reason.LINK_REQUEST_NOT_PENDING):
        await env.core.links.decline(WR, outcome.request)  # a stale copy, still "pending"
    assert [action for action, _ in await env.audit()][-3:] == [
        "link.decline",
        "link.confirm",
        "link.decline",
    ]


@pytest.mark.parametrize(
    "caller",
    [OTHER, KH, Caller(WEARER, OTHER_GUILD), Caller(ADMIN, GUILD, can_manage_guild=True)],
    ids=["requester", "chaster-keyholder", "wearer-in-other-server", "admin"],
)
async def test_only_the_wearer_declines_a_link_request(env: CoreEnv, caller: Caller) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    with refused(Reason.ONLY_NAMED_WEARER_ANSWERS, NotAllowed):
        await env.core.links.decline(caller, outcome.request)
    pending = await env.store.get_link_request(outcome.request.id)
    assert pending is not None and pending.state is LinkRequestState.PENDING
    assert [e.kind for e in env.feed.link_events] == [LinkEventKind.REQUESTED]


async def test_an_accepted_request_cannot_be_declined(env: CoreEnv) -> None:
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    await env.core.links.confirm(WR, outcome.request)
    accepted = await env.core.links.request(outcome.request.id)
    assert accepted is not None
    with refused(Reason.LINK_REQUEST_RESOLVED, state=LinkRequestState.ACCEPTED):
        await env.core.links.decline(WR, accepted)
    assert await env.store.get_open_link(GUILD, WEARER) is not None
