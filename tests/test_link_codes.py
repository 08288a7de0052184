"""Linking by the one-time code of the extension's main page: who a code proves, in which
order the wearer's and the keyholder's codes may come, and every way a code is refused."""

from __future__ import annotations

from typing import Any

from bot.core.errors import Reason
from bot.core.link_codes import (
    CODE_TTL,
    MISS_WINDOW,
    MISSES_ALLOWED,
    PROOF_TTL,
    CodeResult,
    normalised,
)
from bot.core.lock_defaults import LockDefaults
from bot.core.model import Caller
from bot.core.retention import LINK_CODES_KEPT
from bot.store import PenaltyAction, PenaltyOn
from tests.core_env import (
    CHANNEL,
    COMPLETE,
    FAIL,
    GUILD,
    KEYHOLDER,
    KH,
    OTHER_GUILD,
    STRANGER,
    WEARER,
    WR,
    CoreEnv,
    refused,
)
from tests.fakes.chaster import FakeSession, make_user


async def code_for(env: CoreEnv, session: FakeSession, role: str) -> str:
    """The code the main page would show to the session's wearer or keyholder."""
    extension_session = await env.chaster.get_session(session.session_id)
    person = session.wearer if role == "wearer" else session.keyholder
    assert person is not None
    return await env.core.link_codes.issue(extension_session, role, person["_id"])


def unknown_keyholder_lock(env: CoreEnv, **options: Any) -> FakeSession:
    """A lock whose keyholder Chaster knows on no Discord account (nor its wearer)."""
    return env.fake.add_session(has_keyholder=True, **options)


async def test_a_wearers_code_links_with_the_keyholder_chaster_knows(env: CoreEnv) -> None:
    session = env.add_lock()
    code = await code_for(env, session, "wearer")
    assert len(code) == 7 and code[3] == "-"
    outcome = await env.core.link_codes.redeem(WR, code.lower().replace("-", " "), CHANNEL)
    assert outcome.result is CodeResult.LINKED
    link = outcome.link
    assert link is not None
    assert (link.wearer_id, link.keyholder_id) == (WEARER, KEYHOLDER)
    assert link.keyholder_is_lock_keyholder is True
    await env.assign()
    assert env.actors("assign") == ["keyholder"]


async def test_a_self_lock_wearers_code_makes_them_their_own_keyholder(env: CoreEnv) -> None:
    session = env.fake.add_session(has_keyholder=False)
    outcome = await env.core.link_codes.redeem(WR, await code_for(env, session, "wearer"), CHANNEL)
    assert outcome.link is not None
    assert outcome.link.keyholder_id == outcome.link.wearer_id == WEARER
    await env.assign(WR)
    assert env.actors("assign") == ["extension"]


async def test_wearer_first_then_keyholder_links_them_with_the_keyholder_acting_as_such(
    env: CoreEnv,
) -> None:
    session = unknown_keyholder_lock(env)
    waiting = await env.core.link_codes.redeem(WR, await code_for(env, session, "wearer"), CHANNEL)
    assert waiting.result is CodeResult.WAITING_FOR_KEYHOLDER
    assert await env.store.get_open_link(GUILD, WEARER) is None
    outcome = await env.core.link_codes.redeem(
        KH, await code_for(env, session, "keyholder"), CHANNEL
    )
    assert outcome.result is CodeResult.LINKED
    link = outcome.link
    assert link is not None
    assert (link.wearer_id, link.keyholder_id) == (WEARER, KEYHOLDER)
    assert session.keyholder is not None
    assert link.keyholder_chaster_id == session.keyholder["_id"]
    await env.assign()
    assert env.actors("assign") == ["keyholder"]
    assert await env.count("lock_proofs") == 0


async def test_keyholder_first_then_wearer(env: CoreEnv) -> None:
    session = unknown_keyholder_lock(env)
    waiting = await env.core.link_codes.redeem(
        KH, await code_for(env, session, "keyholder"), CHANNEL
    )
    assert waiting.result is CodeResult.WAITING_FOR_WEARER
    outcome = await env.core.link_codes.redeem(WR, await code_for(env, session, "wearer"), CHANNEL)
    assert outcome.result is CodeResult.LINKED
    assert outcome.link is not None
    assert outcome.link.keyholder_id == KEYHOLDER


async def test_a_proof_counts_only_in_its_own_server(env: CoreEnv) -> None:
    session = unknown_keyholder_lock(env)
    await env.core.link_codes.redeem(KH, await code_for(env, session, "keyholder"), CHANNEL)
    elsewhere = Caller(WEARER, OTHER_GUILD)
    outcome = await env.core.link_codes.redeem(
        elsewhere, await code_for(env, session, "wearer"), CHANNEL
    )
    assert outcome.result is CodeResult.WAITING_FOR_KEYHOLDER


async def test_a_keyholders_code_takes_over_as_keyholder_of_record(env: CoreEnv) -> None:
    session = env.fake.add_session(wearer_discord_id=str(WEARER))
    # A friend the wearer accepted is keyholder of record; the real keyholder then proves it.
    friend = Caller(STRANGER, GUILD)
    await env.store.create_link(
        guild_id=GUILD,
        wearer_id=WEARER,
        keyholder_id=STRANGER,
        chaster_session_id=session.session_id,
        lock_id=session.lock_id,
        now=env.clock.now(),
        keyholder_is_lock_keyholder=False,
    )
    await env.assign(friend)
    assert env.actors("assign") == ["extension"]
    outcome = await env.core.link_codes.redeem(
        KH, await code_for(env, session, "keyholder"), CHANNEL
    )
    assert outcome.result is CodeResult.KEYHOLDER_SET
    assert outcome.link is not None
    assert outcome.link.keyholder_id == KEYHOLDER
    assert outcome.link.keyholder_is_lock_keyholder is True
    await env.act(KH, FAIL)
    assert env.actors("complete") == ["keyholder"]


async def test_the_wearer_cannot_use_the_keyholders_code_on_their_own_link(env: CoreEnv) -> None:
    session = unknown_keyholder_lock(env, wearer_discord_id=str(WEARER))
    await env.store.create_link(
        guild_id=GUILD,
        wearer_id=WEARER,
        keyholder_id=WEARER,
        chaster_session_id=session.session_id,
        lock_id=session.lock_id,
        now=env.clock.now(),
    )
    code = await code_for(env, session, "keyholder")
    with refused(Reason.LOCK_LINKED_TO_SOMEONE_ELSE):
        await env.core.link_codes.redeem(WR, code, CHANNEL)


async def test_a_code_works_once(env: CoreEnv) -> None:
    session = env.add_lock()
    code = await code_for(env, session, "wearer")
    await env.core.link_codes.redeem(WR, code, CHANNEL)
    await env.core.links.unlink(WR, WEARER)
    with refused(Reason.LINK_CODE_USED, count=MISSES_ALLOWED - 1):
        await env.core.link_codes.redeem(WR, code, CHANNEL)
    assert await env.store.get_open_link(GUILD, WEARER) is None


async def test_a_code_expires_after_15_minutes(env: CoreEnv) -> None:
    session = env.add_lock()
    code = await code_for(env, session, "wearer")
    env.advance(CODE_TTL.total_seconds())
    with refused(Reason.LINK_CODE_EXPIRED):
        await env.core.link_codes.redeem(WR, code, CHANNEL)
    assert await env.store.get_open_link(GUILD, WEARER) is None
    assert env.fake.count_calls("GET", "/sessions/") == 1  # only to issue it


async def test_a_new_page_ends_the_previous_code(env: CoreEnv) -> None:
    session = env.add_lock()
    first = await code_for(env, session, "wearer")
    second = await code_for(env, session, "wearer")
    with refused(Reason.LINK_CODE_UNKNOWN):
        await env.core.link_codes.redeem(WR, first, CHANNEL)
    outcome = await env.core.link_codes.redeem(WR, second, CHANNEL)
    assert outcome.result is CodeResult.LINKED


async def test_guessing_is_stopped_after_five_misses_even_with_the_right_code(
    env: CoreEnv,
) -> None:
    session = env.add_lock()
    code = await code_for(env, session, "wearer")
    for left in range(MISSES_ALLOWED - 1, -1, -1):
        with refused(Reason.LINK_CODE_UNKNOWN, count=left):
            await env.core.link_codes.redeem(WR, "AAA-AAA", CHANNEL)
    with refused(Reason.LINK_CODE_TOO_MANY) as caught:
        await env.core.link_codes.redeem(WR, code, CHANNEL)
    assert caught.value.params["at"] > env.clock.now()
    # Someone else is not held up by the guesser.
    other = env.fake.add_session(wearer_discord_id=str(STRANGER), keyholder_discord_id=None)
    assert (
        await env.core.link_codes.redeem(
            Caller(STRANGER, GUILD), await code_for(env, other, "wearer"), CHANNEL
        )
    ).result is CodeResult.WAITING_FOR_KEYHOLDER
    env.advance(MISS_WINDOW.total_seconds())
    outcome = await env.core.link_codes.redeem(WR, code, CHANNEL)
    assert outcome.result is CodeResult.LINKED


async def test_a_code_from_a_lock_that_changed_hands_is_refused(env: CoreEnv) -> None:
    session = env.add_lock()
    code = await code_for(env, session, "keyholder")
    session.keyholder = make_user(role="keyholder")
    with refused(Reason.LINK_CODE_STALE):
        await env.core.link_codes.redeem(KH, code, CHANNEL)


async def test_a_code_of_an_ended_lock_is_refused(env: CoreEnv) -> None:
    session = env.add_lock()
    code = await code_for(env, session, "wearer")
    env.fake.end_lock(session.session_id)
    with refused(Reason.LOCK_ENDED):
        await env.core.link_codes.redeem(WR, code, CHANNEL)


async def test_the_database_holds_no_working_code(env: CoreEnv) -> None:
    session = env.add_lock()
    code = await code_for(env, session, "wearer")
    stored = await env.store.db.read(
        lambda conn: [tuple(row) for row in conn.execute("SELECT * FROM link_codes")]
    )
    assert stored and not any(normalised(code) in str(value) for row in stored for value in row)


async def test_the_audit_never_holds_the_code(env: CoreEnv) -> None:
    session = env.add_lock()
    code = await code_for(env, session, "wearer")
    await env.core.link_codes.redeem(WR, code, CHANNEL)
    entries = await env.store.audit_entries()
    assert ("link.code", "ok") in [(e.action, e.result) for e in entries]
    assert not any(normalised(code) in (e.detail or "") for e in entries)


async def test_a_proven_wearer_can_be_asked_by_someone_else(env: CoreEnv) -> None:
    """/link wearer: by a friend: Chaster does not know the wearer's Discord account, but their
    code did; they are asked to consent as usual."""
    session = unknown_keyholder_lock(env)
    await env.core.link_codes.redeem(WR, await code_for(env, session, "wearer"), CHANNEL)
    outcome = await env.core.links.link(Caller(STRANGER, GUILD), WEARER, None, CHANNEL)
    assert outcome.request is not None
    assert outcome.request.chaster_session_id == session.session_id


async def test_a_proven_keyholder_links_with_link_wearer_at_once(env: CoreEnv) -> None:
    session = unknown_keyholder_lock(env, wearer_discord_id=str(WEARER))
    await env.core.link_codes.redeem(KH, await code_for(env, session, "keyholder"), CHANNEL)
    outcome = await env.core.links.link(KH, WEARER, session.session_id, CHANNEL)
    assert outcome.link is not None
    assert outcome.link.keyholder_is_lock_keyholder is True


async def test_a_link_starts_with_the_defaults_of_the_locks_configuration(env: CoreEnv) -> None:
    session = env.add_lock()
    session.config = LockDefaults.from_form(
        {
            "wearerCanComplete": "yes",
            "deadline": "2h",
            "onFail": {"action": "add_time", "amount": "1h", "reason": ""},
            "onDeadline": {"action": "freeze", "amount": "", "reason": ""},
        }
    ).to_config()
    outcome = await env.core.link_codes.redeem(WR, await code_for(env, session, "wearer"), CHANNEL)
    link = outcome.link
    assert link is not None
    assert (link.wearer_can_complete, link.default_deadline_seconds) == (True, 7200)
    penalties = {p.on: (p.action, p.seconds) for p in await env.store.penalties_of(link.id)}
    assert penalties == {
        PenaltyOn.FAIL: (PenaltyAction.ADD_TIME, 3600),
        PenaltyOn.DEADLINE: (PenaltyAction.FREEZE, None),
    }
    task = await env.assign()
    assert task.deadline_at is not None
    assert (task.deadline_at - task.assigned_at).total_seconds() == 7200
    status = await env.core.tasks.status(WR, WEARER)
    assert len(status.penalties) == 2
    # The wearer completes without asking: the lock's default, though the server says no.
    await env.allow_wearer_complete(False)
    done = await env.act(WR, COMPLETE)
    assert done.state.value == "completed"


async def test_spent_codes_proofs_and_misses_are_pruned_a_day_later(env: CoreEnv) -> None:
    session = unknown_keyholder_lock(env)
    live = env.add_lock(wearer_discord_id=str(STRANGER))
    await env.core.link_codes.redeem(WR, await code_for(env, session, "wearer"), CHANNEL)
    with refused(Reason.LINK_CODE_UNKNOWN):
        await env.core.link_codes.redeem(WR, "AAA-AAA", CHANNEL)
    tables = ("link_codes", "lock_proofs", "link_code_misses")
    assert [await env.count(table) for table in tables] == [1, 1, 1]
    env.advance((PROOF_TTL + LINK_CODES_KEPT).total_seconds() - 60)
    assert await env.core.retention.prune() == 2  # the code and the miss; the proof not yet
    env.advance(120)
    fresh = await code_for(env, live, "wearer")
    assert await env.core.retention.prune() == 1
    assert [await env.count(table) for table in tables] == [1, 0, 0]
    # The code issued meanwhile is untouched and works.
    outcome = await env.core.link_codes.redeem(Caller(STRANGER, GUILD), fresh, CHANNEL)
    assert outcome.result is CodeResult.LINKED
