"""Giving a wearer a task (/task assign) and showing where it stands (/task status)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.core.errors import (
    ChasterRefused,
    Consequence,
    NotAllowed,
    Param,
    Person,
    Phrase,
    Reason,
    Refused,
    TaskText,
    Trouble,
    Typed,
)
from bot.core.model import Caller, EventKind
from bot.store import Task, TaskState
from tests.core_env import (
    CHANNEL,
    FEED_CHANNEL,
    GUILD,
    HANG_TIMEOUT,
    KEYHOLDER,
    KH,
    MANAGER,
    OTHER,
    OTHER_GUILD,
    START,
    STRANGER,
    WEARER,
    WR,
    CoreEnv,
    EnvFactory,
    refused,
)

# Everyone who is neither the wearer nor the keyholder here: a stranger, a server admin, and the
# wearer and keyholder themselves seen from another server, where the wearer is not linked.
OUTSIDERS = pytest.mark.parametrize(
    ("caller", "error", "reason", "params"),
    [
        (OTHER, NotAllowed, Reason.ONLY_INVOLVED_SEE_STATUS, {}),
        (MANAGER, NotAllowed, Reason.ONLY_INVOLVED_SEE_STATUS, {}),
        (
            Caller(KEYHOLDER, OTHER_GUILD),
            Refused,
            Reason.NOT_LINKED_USE_LINK,
            {"wearer": Person(WEARER)},
        ),
        (
            Caller(WEARER, OTHER_GUILD),
            Refused,
            Reason.NOT_LINKED_USE_LINK,
            {"wearer": Person(WEARER)},
        ),
    ],
    ids=["stranger", "admin", "keyholder-elsewhere", "wearer-elsewhere"],
)


# ---------------------------------------------------------------------------------- assign


async def test_keyholder_assigns(env: CoreEnv) -> None:
    link = await env.linked()
    task = await env.assign(description="  Write 100 lines  ", points=5)
    assert task.description == "Write 100 lines"
    assert (task.points, task.verification_required, task.duration_seconds) == (5, False, None)
    assert task.state is TaskState.ASSIGNED
    assert task.link_id == link.id
    assert task.assigned_by == KEYHOLDER
    assert task.assigned_at == env.clock.now()
    [call] = env.posts("assign")
    assert call.json == {
        "task": {"task": "Write 100 lines", "points": 5, "verificationRequired": False},
        "actor": "keyholder",
    }
    assert env.session.current_task is not None
    assert env.session.current_task["task"] == "Write 100 lines"
    [event] = env.feed.events
    assert event.kind is EventKind.ASSIGNED
    assert event.channel_id == CHANNEL
    assert event.task.id == task.id
    assert event.link.id == link.id
    assert event.by_user_id == KEYHOLDER
    assert await env.audit() == [("link", "ok"), ("task.assign", "ok")]


async def test_assign_a_timed_photo_task(env: CoreEnv) -> None:
    await env.linked()
    task = await env.assign(points=0, verification_required=True, duration="1h30m")
    assert (task.points, task.verification_required, task.duration_seconds) == (0, True, 5400)
    [call] = env.posts("assign")
    assert call.json["task"] == {
        "task": "Write 100 lines",
        "points": 0,
        "verificationRequired": True,
        "duration": 5400,
    }


async def test_assign_accepts_the_boundaries(env: CoreEnv) -> None:
    await env.linked()
    text = "x" * 500
    task = await env.assign(description=f"\n {text} \t", points=0, duration="1440")
    assert task.description == text
    assert task.duration_seconds == 86_400


@pytest.mark.parametrize(
    ("bad", "reason", "params"),
    [
        pytest.param(
            {"description": ""},
            Reason.DESCRIPTION_LENGTH,
            {"limit": 500, "count": 0},
            id="empty",
        ),
        pytest.param(
            {"description": " \n\t "},
            Reason.DESCRIPTION_LENGTH,
            {"limit": 500, "count": 0},
            id="blank",
        ),
        pytest.param(
            {"description": "x" * 501},
            Reason.DESCRIPTION_LENGTH,
            {"limit": 500, "count": 501},
            id="501-chars",
        ),
        pytest.param({"points": -1}, Reason.NEGATIVE_POINTS, {}, id="negative-points"),
        pytest.param(
            {"duration": "59s"},
            Reason.DURATION_OUT_OF_RANGE,
            {"input": Typed("59s"), "duration": "59s"},
            id="too-short",
        ),
        pytest.param(
            {"duration": "0"},
            Reason.DURATION_OUT_OF_RANGE,
            {"input": Typed("0"), "duration": "0s"},
            id="zero",
        ),
        pytest.param(
            {"duration": "1441"},
            Reason.DURATION_OUT_OF_RANGE,
            {"input": Typed("1441"), "duration": "24h 1m"},
            id="too-long-minutes",
        ),
        pytest.param(
            {"duration": "24h1s"},
            Reason.DURATION_OUT_OF_RANGE,
            {"input": Typed("24h1s"), "duration": "24h 1s"},
            id="too-long",
        ),
        pytest.param(
            {"duration": "soon"},
            Reason.DURATION_UNREADABLE,
            {"input": Typed("soon")},
            id="unreadable",
        ),
    ],
)
async def test_invalid_assign_is_refused_without_calling_chaster(
    env: CoreEnv, bad: dict[str, Any], reason: Reason, params: dict[str, Param]
) -> None:
    await env.linked()
    with refused(reason, Refused, **params):
        await env.assign(**bad)
    assert env.fake.calls == []
    assert await env.count("tasks") == 0
    assert env.feed.events == []
    assert await env.audit() == [("link", "ok"), ("task.assign", "refused")]


async def test_assign_with_an_unreadable_unicode_duration_is_refused(env: CoreEnv) -> None:
    await env.linked()
    with refused(Reason.DURATION_UNREADABLE, input=Typed("²")):
        await env.assign(duration="²")
    assert env.fake.calls == []
    assert await env.audit() == [("link", "ok"), ("task.assign", "refused")]


@pytest.mark.parametrize(
    "text", ["\x00Write 100 lines", "Write\x00", "Ring \x07 bell", "Esc \x1b[31m red"]
)
async def test_control_characters_are_refused_before_chaster(env: CoreEnv, text: str) -> None:
    # A NUL passes a 1..500 length check, but SQLite's length() stops at it and the store's
    # CHECK would then fail: refused before Chaster, so Chaster never gets a task the bot can't
    # record.
    await env.linked()
    with refused(Reason.DESCRIPTION_CONTROL):
        await env.assign(description=text)
    assert env.fake.calls == []
    assert await env.count("tasks") == 0
    assert await env.audit() == [("link", "ok"), ("task.assign", "refused")]


async def test_line_breaks_and_tabs_are_fine_in_a_description(env: CoreEnv) -> None:
    await env.linked()
    task = await env.assign(description="Line one\n\tLine two")
    assert task.description == "Line one\n\tLine two"
    assert env.posts("assign")[0].json["task"]["task"] == "Line one\n\tLine two"


@pytest.mark.parametrize(
    ("caller", "error"),
    [(WR, NotAllowed), (OTHER, NotAllowed), (MANAGER, NotAllowed)],
    ids=["wearer", "stranger", "admin"],
)
async def test_only_the_keyholder_of_record_assigns(
    env: CoreEnv, caller: Caller, error: type[Refused]
) -> None:
    await env.linked()
    with refused(Reason.ONLY_KEYHOLDER_ASSIGNS, error, keyholder=Person(KEYHOLDER)):
        await env.assign(caller)
    assert env.posts("assign") == []
    assert await env.count("tasks") == 0
    assert env.session.current_task is None


async def test_assign_is_refused_while_a_task_is_open(env: CoreEnv) -> None:
    await env.linked()
    await env.assign(description="Cold shower")
    with refused(
        Reason.OPEN_TASK_EXISTS,
        wearer=Person(WEARER),
        task=TaskText("Cold shower"),
        state=TaskState.ASSIGNED,
    ):
        await env.assign(description="Another one")
    assert len(env.posts("assign")) == 1
    assert await env.count("tasks") == 1


async def test_assign_is_refused_while_the_bot_still_records_an_open_task(env: CoreEnv) -> None:
    # The task ended inside Chaster, but the bot has not heard of it yet: its record decides.
    await env.linked()
    await env.assign(description="Cold shower")
    env.fake.finish_in_app(env.session.session_id, completed=True)
    env.fake.calls.clear()
    with refused(
        Reason.OPEN_TASK_EXISTS,
        wearer=Person(WEARER),
        task=TaskText("Cold shower"),
        state=TaskState.ASSIGNED,
    ):
        await env.assign(description="Another one")
    assert env.posts("assign") == []
    assert await env.count("tasks") == 1


async def test_assign_while_chaster_shows_a_task_gets_chasters_refusal(env: CoreEnv) -> None:
    await env.linked()
    env.fake.assign_in_app(env.session.session_id, "Picked in Chaster", 3)
    reads = env.fake.count_calls("GET", "/sessions/")
    with refused(
        Reason.CHASTER_SAID, ChasterRefused, message="A task is already assigned"
    ) as caught:
        await env.assign()
    assert isinstance(caught.value, ChasterRefused)
    assert caught.value.chaster_message == "A task is already assigned"
    assert caught.value.status == env.fake.status_task_conflict
    # One request, no read first: Chaster's own conflict answer is what the user sees.
    assert len(env.posts("assign")) == 1
    assert env.fake.count_calls("GET", "/sessions/") == reads
    assert await env.count("tasks") == 0


async def test_assign_during_a_vote_gets_chasters_refusal(env: CoreEnv) -> None:
    await env.linked()
    env.fake.start_vote_in_app(env.session.session_id)
    with refused(
        Reason.CHASTER_SAID, ChasterRefused, message="A task vote is in progress"
    ) as caught:
        await env.assign()
    assert isinstance(caught.value, ChasterRefused)
    assert caught.value.chaster_message == "A task vote is in progress"
    assert caught.value.status == env.fake.status_task_conflict
    assert len(env.posts("assign")) == 1
    assert await env.count("tasks") == 0


async def test_old_link_reads_chaster_first_and_names_the_task(env: CoreEnv) -> None:
    await env.linked()
    await env.forget_lock_facts()
    env.fake.assign_in_app(env.session.session_id, "Picked in Chaster", 3)
    with refused(Reason.CHASTER_HAS_TASK, wearer=Person(WEARER), task="Picked in Chaster"):
        await env.assign()
    assert env.posts("assign") == []
    assert await env.count("tasks") == 0


async def test_old_link_reads_chaster_first_and_sees_a_vote(env: CoreEnv) -> None:
    await env.linked()
    await env.forget_lock_facts()
    env.fake.start_vote_in_app(env.session.session_id)
    with refused(Reason.VOTE_RUNNING):
        await env.assign()
    assert env.posts("assign") == []
    assert await env.count("tasks") == 0


async def test_old_link_learns_the_lock_facts_once(env: CoreEnv) -> None:
    await env.linked()
    await env.forget_lock_facts()
    await env.assign()
    # One read before the assign, none after: the fact is kept.
    assert env.fake.count_calls("GET", "/sessions/") == 1
    assert env.actors("assign") == ["keyholder"]
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None and link.keyholder_is_lock_keyholder is True


@pytest.mark.parametrize(
    ("status", "message"),
    [(400, "A task is already assigned"), (422, ["task.task is odd", "actor is odd"])],
)
async def test_assign_reports_chaster_errors_in_chasters_words(
    env: CoreEnv, status: int, message: str | list[str]
) -> None:
    await env.linked()
    env.fake.fail_next("POST", "/tasks/assign", status, message)
    words = "; ".join(message) if isinstance(message, list) else message
    with refused(Reason.CHASTER_SAID, ChasterRefused, message=words) as caught:
        await env.assign()
    assert isinstance(caught.value, ChasterRefused)
    parts = message if isinstance(message, list) else [message]
    for part in parts:
        assert part in caught.value.chaster_message
    assert caught.value.status == status
    assert await env.count("tasks") == 0
    assert env.feed.events == []


async def test_assign_reports_a_failed_session_read_in_chasters_words(env: CoreEnv) -> None:
    await env.linked()
    await env.forget_lock_facts()
    env.fake.fail_next("GET", "/sessions/", 503, "Maintenance until noon")
    with refused(
        Reason.CHASTER_UNAVAILABLE,
        ChasterRefused,
        trouble=Phrase(Trouble.SERVER_ERROR, {"status": 503, "message": "Maintenance until noon"}),
        consequence=Phrase(Consequence.NOTHING_CHANGED, {}),
    ) as caught:
        await env.assign()
    assert isinstance(caught.value, ChasterRefused)
    assert caught.value.chaster_message == "Maintenance until noon"
    assert caught.value.status == 503
    assert env.posts("assign") == []
    assert await env.count("tasks") == 0


async def test_a_lost_assign_that_landed_is_recorded_once(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    env.fake.hang_next("POST", "/tasks/assign", apply=True, seconds=3.0)
    task = await env.assign(description="Kneel for ten minutes")
    assert task.state is TaskState.ASSIGNED
    assert task.description == "Kneel for ten minutes"
    assert len(env.posts("assign")) == 1
    assert await env.count("tasks") == 1
    assert env.feed.kinds() == [EventKind.ASSIGNED]
    assert (await env.audit())[-1] == ("task.assign", "ok")


async def test_a_lost_assign_that_did_not_land_stores_nothing(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    env.fake.hang_next("POST", "/tasks/assign", apply=False, seconds=3.0)
    with refused(Reason.ASSIGN_DID_NOT_LAND, trouble=Phrase(Trouble.TIMEOUT, {})):
        await env.assign(description="Kneel for ten minutes")
    assert len(env.posts("assign")) == 1
    assert env.session.current_task is None
    assert await env.count("tasks") == 0
    assert env.feed.events == []
    assert (await env.audit())[-1] == ("task.assign", "refused")


# ---------------------------------------------------------------------------------- where it goes


async def test_assigned_event_goes_to_the_feed_channel_when_set(env: CoreEnv) -> None:
    await env.core.settings.set_feed_channel(MANAGER, FEED_CHANNEL)
    await env.linked()
    task = await env.assign(channel_id=CHANNEL, duration="1m")
    assert task.feed_channel_id == FEED_CHANNEL
    [event] = env.feed.events
    assert event.kind is EventKind.ASSIGNED
    assert event.channel_id == FEED_CHANNEL
    # Later events follow the task's feed message.
    await env.act(WR, START)
    assert env.feed.events[-1].kind is EventKind.TIMER_STARTED
    assert env.feed.events[-1].channel_id == FEED_CHANNEL
    assert env.feed.events[-1].task.id == task.id


async def test_assigned_event_goes_to_the_command_channel_without_a_feed(env: CoreEnv) -> None:
    await env.linked()
    await env.assign(channel_id=CHANNEL + 7)
    [event] = env.feed.events
    assert event.channel_id == CHANNEL + 7


# ---------------------------------------------------------------------------------- races


async def test_two_concurrent_assigns_assign_once(env: CoreEnv) -> None:
    await env.linked()
    results = await asyncio.gather(
        env.assign(description="One"), env.assign(description="Two"), return_exceptions=True
    )
    [won] = [r for r in results if isinstance(r, Task)]
    [lost] = [r for r in results if isinstance(r, BaseException)]
    assert type(lost) is Refused, lost
    assert lost.reason is Reason.OPEN_TASK_EXISTS, lost
    assert lost.params["task"] == TaskText(won.description), lost
    assert len(env.posts("assign")) == 1
    assert await env.count("tasks") == 1


async def test_keyholders_in_two_servers_assigning_at_once_make_one_task(env: CoreEnv) -> None:
    # One lock linked in two servers, each with its own keyholder of record (the second by
    # the wearer's consent): Chaster holds one current task, so only one assign can win.
    await env.linked()
    elsewhere = Caller(STRANGER, OTHER_GUILD)
    outcome = await env.core.links.link(elsewhere, WEARER, env.session.session_id, CHANNEL)
    assert outcome.request is not None
    await env.core.links.confirm(Caller(WEARER, OTHER_GUILD), outcome.request)
    env.fake.latency = 0.05

    async def assign_as(caller: Caller, text: str) -> Task:
        return await env.core.tasks.assign(
            caller, WEARER, description=text, points=1, channel_id=CHANNEL
        )

    results = await asyncio.gather(
        assign_as(KH, "Hold a plank"), assign_as(elsewhere, "Run a lap"), return_exceptions=True
    )

    [won] = [r for r in results if isinstance(r, Task)]
    [lost] = [r for r in results if isinstance(r, BaseException)]
    # Chaster itself refuses the second assign, in its own words.
    assert type(lost) is ChasterRefused, lost
    assert lost.reason is Reason.CHASTER_SAID, lost
    assert lost.chaster_message == "A task is already assigned", lost
    assert lost.status == env.fake.status_task_conflict, lost
    assert await env.count("tasks") == 1
    current = env.session.current_task
    assert current is not None and current["task"] == won.description


# ---------------------------------------------------------------------------------- status


@pytest.mark.parametrize("caller", [KH, WR], ids=["keyholder", "wearer"])
async def test_keyholder_and_wearer_see_the_status(env: CoreEnv, caller: Caller) -> None:
    link = await env.linked(enable_points=True, points_required=40, points=7)
    task = await env.assign(description="Plank")
    status = await env.core.tasks.status(caller, WEARER)
    assert status.link == link
    assert status.task is not None
    assert (status.task.id, status.task.state) == (task.id, TaskState.ASSIGNED)
    assert status.chaster_problem is None
    assert status.chaster is not None
    assert status.chaster.current_task is not None
    assert status.chaster.current_task.task == "Plank"
    assert status.chaster.points == 7
    assert status.chaster.points_required == 40


async def test_status_shows_chaster_trouble_instead_of_failing(env: CoreEnv) -> None:
    await env.linked()
    env.fake.fail_next("GET", "/sessions/", 500, "Mongo went away")
    status = await env.core.tasks.status(KH, WEARER)
    assert status.chaster is None
    problem = status.chaster_problem
    assert problem is not None
    assert type(problem) is Refused
    assert problem.reason is Reason.STATUS_CHASTER_UNAVAILABLE
    assert problem.params == {
        "trouble": Phrase(Trouble.SERVER_ERROR, {"status": 500, "message": "Mongo went away"})
    }
    assert (await env.audit())[-1] == ("task.status", "ok")


@OUTSIDERS
async def test_nobody_else_sees_the_status(
    env: CoreEnv,
    caller: Caller,
    error: type[Refused],
    reason: Reason,
    params: dict[str, Param],
) -> None:
    await env.linked()
    with refused(reason, error, **params):
        await env.core.tasks.status(caller, WEARER)
    assert env.fake.calls == []
    assert (await env.audit())[-1] == ("task.status", "refused")
