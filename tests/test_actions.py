"""Acting on a wearer's open task: start its timer, complete it (or ask the keyholder to confirm
a wearer's completion), fail it; by command or by reaction on its feed message."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.core.errors import (
    ChasterRefused,
    Consequence,
    NotAllowed,
    Person,
    Phrase,
    Reason,
    Refused,
    Trouble,
)
from bot.core.model import Caller, Event, EventKind, TaskAction, TaskEvent
from bot.store import Task, TaskState
from tests.core_env import (
    ADMIN,
    CHANNEL,
    COMPLETE,
    FAIL,
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

# ---------------------------------------------------------------------------------- who may


@pytest.mark.parametrize(
    ("caller", "actor"),
    [(KH, "keyholder"), (WR, "wearer"), (OTHER, None), (MANAGER, None)],
    ids=["keyholder", "wearer", "stranger", "admin"],
)
async def test_who_starts_the_timer(env: CoreEnv, caller: Caller, actor: str | None) -> None:
    await env.linked()
    await env.assign(duration="2m")
    env.fake.calls.clear()
    if actor is None:
        with refused(Reason.ONLY_INVOLVED_ACT_ON_THIS_TASK, NotAllowed):
            await env.act(caller, START)
        assert env.posts("start-timer") == []
        assert env.session.timer_started_at is None
        assert (await env.only_task()).state is TaskState.ASSIGNED
        return
    task = await env.act(caller, START)
    assert task.state is TaskState.TIMER_RUNNING
    assert task.timer_started_by == caller.user_id
    assert task.timer_started_at == env.clock.now()
    assert task.timer_ends_at == env.clock.now() + timedelta(minutes=2)
    assert env.actors("start-timer") == [actor]
    assert env.session.timer_started_at is not None
    event = env.feed.events[-1]
    assert event.kind is EventKind.TIMER_STARTED
    assert event.by_user_id == caller.user_id
    assert event.channel_id == CHANNEL


@pytest.mark.parametrize(
    ("caller", "wearer_can_complete", "actor"),
    [
        (KH, False, "keyholder"),
        (KH, True, "keyholder"),
        (WR, True, "wearer"),
        (OTHER, True, None),
        (OTHER, False, None),
        (MANAGER, True, None),
    ],
    ids=[
        "keyholder",
        "keyholder-setting-on",
        "wearer-setting-on",
        "stranger-on",
        "stranger",
        "admin",
    ],
)
async def test_who_completes(
    env: CoreEnv, caller: Caller, wearer_can_complete: bool, actor: str | None
) -> None:
    await env.allow_wearer_complete(wearer_can_complete)
    await env.linked()
    await env.assign(points=5)
    await check_who_closes(env, caller, COMPLETE, actor)


@pytest.mark.parametrize(
    ("caller", "actor"),
    [(KH, "keyholder"), (WR, "wearer"), (OTHER, None), (MANAGER, None)],
    ids=["keyholder", "wearer", "stranger", "admin"],
)
async def test_who_fails(env: CoreEnv, caller: Caller, actor: str | None) -> None:
    await env.linked()
    await env.assign()
    await check_who_closes(env, caller, FAIL, actor)


async def check_who_closes(
    env: CoreEnv, caller: Caller, action: TaskAction, actor: str | None
) -> None:
    """`caller` completes or fails the open task: refused without a word to Chaster when
    `actor` is None, else closed in Chaster as `actor` and recorded as `caller`'s doing."""
    env.fake.calls.clear()
    if actor is None:
        with refused(Reason.ONLY_INVOLVED_ACT_ON_THIS_TASK, NotAllowed):
            await env.act(caller, action)
        assert env.fake.calls == []
        assert (await env.only_task()).state is TaskState.ASSIGNED
        return
    completed = action is COMPLETE
    task = await env.act(caller, action)
    assert task.state is (TaskState.COMPLETED if completed else TaskState.FAILED)
    assert task.closed_by == caller.user_id
    assert task.closed_at == env.clock.now()
    [call] = env.posts("complete")
    assert call.json == {"actor": actor, "isCompleted": completed}
    assert env.session.current_task is None
    event = env.feed.events[-1]
    assert event.kind is (EventKind.COMPLETED if completed else EventKind.FAILED)
    assert event.by_user_id == caller.user_id


# ---------------------------------------------------------------------------------- confirmation


async def test_wearer_complete_asks_the_keyholder_when_the_setting_is_off(env: CoreEnv) -> None:
    await env.linked()
    await env.assign()
    env.fake.calls.clear()
    waiting = await env.act(WR, COMPLETE)
    assert waiting.state is TaskState.AWAITING_CONFIRMATION
    assert waiting.confirmation_requested_by == WEARER
    assert waiting.confirmation_requested_at == env.clock.now()
    assert env.fake.calls == []
    assert env.session.current_task is not None
    event = env.feed.events[-1]
    assert event.kind is EventKind.CONFIRMATION_REQUESTED
    assert event.by_user_id == WEARER

    # Asking twice changes nothing.
    with refused(Reason.ALREADY_AWAITING_CONFIRMATION, keyholder=Person(KEYHOLDER)):
        await env.act(WR, COMPLETE)
    assert env.fake.calls == []
    assert (await env.only_task()) == waiting

    done = await env.act(KH, COMPLETE)
    assert done.state is TaskState.COMPLETED
    assert done.closed_by == KEYHOLDER
    assert env.actors("complete") == ["keyholder"]
    assert env.feed.kinds() == [
        EventKind.ASSIGNED,
        EventKind.CONFIRMATION_REQUESTED,
        EventKind.COMPLETED,
    ]


async def test_a_task_awaiting_confirmation_can_still_be_failed(env: CoreEnv) -> None:
    await env.linked()
    await env.assign()
    await env.act(WR, COMPLETE)
    failed = await env.act(KH, FAIL)
    assert failed.state is TaskState.FAILED
    [call] = env.posts("complete")
    assert call.json == {"actor": "keyholder", "isCompleted": False}


@pytest.mark.parametrize("timed", [False, True], ids=["untimed", "timed"])
async def test_the_keyholder_rejects_a_completion_and_the_task_is_open_again(
    env: CoreEnv, timed: bool
) -> None:
    await env.linked()
    task = await env.assign(duration="1m" if timed else None)
    if timed:
        task = await env.act(WR, START)
        env.advance(60)
    before = task.state
    await env.act(WR, COMPLETE)
    env.fake.calls.clear()
    reopened = await env.core.actions.act_on_message(KH, task, TaskAction.REJECT, via="button")
    # Back where it was before the wearer asked; Chaster never heard of the request.
    assert reopened.state is before
    assert reopened.confirmation_requested_by is None
    assert reopened.confirmation_requested_at is None
    assert reopened.timer_ends_at == task.timer_ends_at
    assert env.fake.calls == []
    assert env.session.current_task is not None
    event = env.feed.events[-1]
    assert (event.kind, event.by_user_id) == (EventKind.CONFIRMATION_REJECTED, KEYHOLDER)
    # Nothing left to reject; the wearer may ask again.
    with refused(Reason.NOT_AWAITING_CONFIRMATION, state=before):
        await env.core.actions.act_on_message(KH, task, TaskAction.REJECT, via="button")
    again = await env.act(WR, COMPLETE)
    assert again.state is TaskState.AWAITING_CONFIRMATION
    assert [action for action, _ in await env.audit()][-3:] == [
        "button.reject",
        "button.reject",
        "task.complete",
    ]


async def test_the_keyholder_confirms_a_completion(env: CoreEnv) -> None:
    await env.linked()
    task = await env.assign()
    with refused(Reason.NOT_AWAITING_CONFIRMATION, state=TaskState.ASSIGNED):
        await env.core.actions.act_on_message(KH, task, TaskAction.CONFIRM, via="button")
    await env.act(WR, COMPLETE)
    env.fake.calls.clear()
    done = await env.core.actions.act_on_message(KH, task, TaskAction.CONFIRM, via="button")
    assert done.state is TaskState.COMPLETED
    assert done.closed_by == KEYHOLDER
    assert env.actors("complete") == ["keyholder"]
    assert env.feed.kinds()[-1] is EventKind.COMPLETED


@pytest.mark.parametrize("action", [TaskAction.CONFIRM, TaskAction.REJECT])
@pytest.mark.parametrize("caller", [WR, OTHER, MANAGER], ids=["wearer", "stranger", "manager"])
async def test_only_the_keyholder_judges_a_completion(
    env: CoreEnv, caller: Caller, action: TaskAction
) -> None:
    await env.linked()
    task = await env.assign()
    waiting = await env.act(WR, COMPLETE)
    env.fake.calls.clear()
    with refused(Reason.ONLY_KEYHOLDER_JUDGES, NotAllowed):
        await env.core.actions.act_on_message(caller, task, action, via="button")
    assert env.fake.calls == []
    assert await env.only_task() == waiting


async def test_wearer_complete_setting_of_another_server_does_not_apply(env: CoreEnv) -> None:
    await env.core.settings.set_wearer_can_complete(Caller(ADMIN, OTHER_GUILD, True), True)
    await env.linked()
    await env.assign()
    waiting = await env.act(WR, COMPLETE)
    assert waiting.state is TaskState.AWAITING_CONFIRMATION
    assert env.posts("complete") == []


# ---------------------------------------------------------------------------------- actors


async def test_self_lock_actions_use_actor_extension(env: CoreEnv) -> None:
    link = await env.linked(keyholder=False)
    assert link.keyholder_id == WEARER
    await env.assign(WR, duration="1m")
    await env.act(WR, START)
    env.advance(60)
    done = await env.act(WR, COMPLETE)  # their own keyholder: no confirmation step
    assert done.state is TaskState.COMPLETED
    await env.assign(WR)
    await env.act(WR, FAIL)
    assert env.actors("assign") == ["extension", "extension"]
    assert env.actors("start-timer") == ["extension"]
    assert [c.json for c in env.posts("complete")] == [
        {"actor": "extension", "isCompleted": True},
        {"actor": "extension", "isCompleted": False},
    ]


async def test_self_lock_with_a_keyholder_of_record_from_discord(env: CoreEnv) -> None:
    session = env.add_lock(keyholder=False)
    outcome = await env.core.links.link(KH, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None  # KH holds no key in Chaster: the wearer must consent
    link = await env.core.links.confirm(WR, outcome.request)
    assert link.keyholder_id == KEYHOLDER
    env.fake.calls.clear()
    with refused(Reason.ONLY_KEYHOLDER_ASSIGNS, NotAllowed, keyholder=Person(KEYHOLDER)):
        await env.assign(WR)
    await env.assign(KH, duration="1m")
    await env.act(WR, START)
    env.advance(60)
    await env.act(KH, COMPLETE)
    assert env.actors("assign") == ["extension"]
    assert env.actors("start-timer") == ["wearer"]
    assert env.actors("complete") == ["extension"]


async def test_a_keyholder_the_wearer_accepted_acts_as_the_extension(env: CoreEnv) -> None:
    # The lock has its own keyholder in Chaster (KEYHOLDER); the wearer lets someone else
    # manage tasks here. Chaster must not show that person's actions in KEYHOLDER's name.
    session = env.add_lock()
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    link = await env.core.links.confirm(WR, outcome.request)
    assert link.keyholder_id == STRANGER and link.keyholder_is_lock_keyholder is False
    env.fake.calls.clear()
    await env.assign(OTHER, duration="1m")
    await env.act(OTHER, START)
    env.advance(60)
    await env.act(OTHER, COMPLETE)
    assert env.actors("assign") == ["extension"]
    assert env.actors("start-timer") == ["extension"]
    assert env.actors("complete") == ["extension"]


async def test_the_actor_follows_the_locks_keyholder_in_chaster(env: CoreEnv) -> None:
    # The lock changes hands in Chaster: the keyholder of record stops acting as "keyholder"
    # from the first read that shows it, and the fact is kept for later assigns.
    await env.linked()
    await env.assign()
    await env.act(KH, COMPLETE)
    env.session.keyholder = None  # now a self-lock
    await env.core.sync.sync_session(env.session.session_id)
    await env.assign(description="After the handover")
    assert env.actors("assign") == ["keyholder", "extension"]
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None and link.keyholder_is_lock_keyholder is False


@pytest.mark.parametrize("guest", [KEYHOLDER, WEARER, STRANGER], ids=["kh", "wearer", "stranger"])
async def test_links_are_invisible_from_other_servers(env: CoreEnv, guest: int) -> None:
    link = await env.linked()
    task = await env.assign()
    env.fake.calls.clear()
    elsewhere = Caller(guest, OTHER_GUILD, can_manage_guild=True)
    # In another server the wearer is not linked at all; a feed message of this server's task
    # is not that server's.
    with refused(Reason.NOT_LINKED_USE_LINK, wearer=Person(WEARER)):
        await env.assign(elsewhere, description="Sneaky")
    for action in (START, COMPLETE, FAIL):
        with refused(Reason.NOT_LINKED_USE_LINK, wearer=Person(WEARER)):
            await env.act(elsewhere, action)
        with refused(Reason.TASK_FROM_OTHER_SERVER, NotAllowed):
            await env.core.actions.act_on_message(elsewhere, task, action)
    with refused(Reason.NOT_LINKED_USE_LINK, wearer=Person(WEARER)):
        await env.core.tasks.status(elsewhere, WEARER)
    with refused(Reason.NOT_LINKED_USE_LINK, wearer=Person(WEARER)):
        await env.core.links.unlink(elsewhere, WEARER)
    assert env.fake.calls == []
    assert await env.store.get_open_link(GUILD, WEARER) == link
    assert await env.store.get_task(task.id) == await env.only_task()
    assert (await env.only_task()).state is TaskState.ASSIGNED
    elsewhere_entries = await env.store.audit_entries(guild_id=OTHER_GUILD)
    assert [e.result for e in elsewhere_entries] == ["refused"] * 9


# ---------------------------------------------------------------------------------- task rules


async def test_complete_before_the_timer_ends_is_refused_with_the_end_time(env: CoreEnv) -> None:
    await env.allow_wearer_complete()
    await env.linked()
    await env.assign(duration="10m")
    started = await env.act(KH, START)
    assert started.timer_ends_at is not None
    env.advance(599)
    for caller in (KH, WR):
        with refused(Reason.TIMER_RUNNING, at=started.timer_ends_at):
            await env.act(caller, COMPLETE)
    assert env.posts("complete") == []
    assert (await env.only_task()).state is TaskState.TIMER_RUNNING
    env.advance(1)
    done = await env.act(KH, COMPLETE)
    assert done.state is TaskState.COMPLETED
    assert len(env.posts("complete")) == 1


async def test_wearer_confirmation_request_also_waits_for_the_timer(env: CoreEnv) -> None:
    await env.linked()
    await env.assign(duration="5m")
    started = await env.act(WR, START)
    assert started.timer_ends_at is not None
    with refused(Reason.TIMER_RUNNING, at=started.timer_ends_at):
        await env.act(WR, COMPLETE)
    assert (await env.only_task()).state is TaskState.TIMER_RUNNING


@pytest.mark.parametrize("caller", [KH, WR], ids=["keyholder", "wearer"])
async def test_a_photo_task_cannot_be_completed_here(env: CoreEnv, caller: Caller) -> None:
    await env.allow_wearer_complete()
    await env.linked()
    await env.assign(verification_required=True)
    env.fake.calls.clear()
    with refused(Reason.NEEDS_PHOTO):
        await env.act(caller, COMPLETE)
    assert env.fake.calls == []
    assert (await env.only_task()).state is TaskState.ASSIGNED


async def test_start_on_an_untimed_task_is_refused(env: CoreEnv) -> None:
    await env.linked()
    await env.assign()
    env.fake.calls.clear()
    for caller in (KH, WR):
        with refused(Reason.NOT_TIMED):
            await env.act(caller, START)
    assert env.fake.calls == []
    assert (await env.only_task()).state is TaskState.ASSIGNED


async def test_start_twice_is_refused(env: CoreEnv) -> None:
    await env.linked()
    await env.assign(duration="15m")
    started = await env.act(WR, START)
    assert started.timer_ends_at is not None
    env.advance(30)
    for caller in (KH, WR):
        with refused(Reason.TIMER_ALREADY_STARTED, at=started.timer_ends_at):
            await env.act(caller, START)
    assert len(env.posts("start-timer")) == 1
    assert await env.only_task() == started


@pytest.mark.parametrize("caller", [KH, WR], ids=["keyholder", "wearer"])
async def test_complete_a_timed_task_that_was_not_started_is_refused(
    env: CoreEnv, caller: Caller
) -> None:
    await env.allow_wearer_complete()
    await env.linked()
    await env.assign(duration="1m")
    env.advance(3600)
    env.fake.calls.clear()
    with refused(Reason.START_TIMER_FIRST):
        await env.act(caller, COMPLETE)
    assert env.fake.calls == []
    assert (await env.only_task()).state is TaskState.ASSIGNED


async def test_no_open_task(env: CoreEnv) -> None:
    await env.linked()
    for caller in (KH, WR):
        with refused(Reason.NO_OPEN_TASK, wearer=Person(WEARER)):
            await env.act(caller, FAIL)
    with refused(Reason.ONLY_INVOLVED_ACT_ON_THEIR_TASKS, NotAllowed):
        await env.act(OTHER, FAIL)
    assert env.fake.calls == []


# ---------------------------------------------------------------------------------- Chaster fails


@pytest.mark.parametrize(
    ("action", "path", "status", "reason"),
    [
        (START, "start-timer", 400, Reason.CHASTER_SAID),
        (COMPLETE, "complete", 403, Reason.CHASTER_SAID),
        # A 5xx is no usable answer; Chaster still shows the task, so nothing changed.
        (FAIL, "complete", 500, Reason.CHASTER_UNAVAILABLE),
    ],
    ids=["start", "complete", "fail"],
)
async def test_chaster_errors_leave_the_task_unchanged(
    env: CoreEnv, action: TaskAction, path: str, status: int, reason: Reason
) -> None:
    await env.linked()
    await env.assign(duration="1m")
    if action is not START:
        await env.act(KH, START)
        env.advance(60)
    before = await env.only_task()
    events = len(env.feed.events)
    env.fake.fail_next("POST", f"/tasks/{path}", status, "Chaster is grumpy today")
    words = (
        {"message": "Chaster is grumpy today"}
        if reason is Reason.CHASTER_SAID
        else {
            "trouble": Phrase(
                Trouble.SERVER_ERROR, {"status": status, "message": "Chaster is grumpy today"}
            ),
            "consequence": Phrase(Consequence.NOTHING_CHANGED, {}),
        }
    )
    with refused(reason, ChasterRefused, **words) as caught:
        await env.act(KH, action)
    assert isinstance(caught.value, ChasterRefused)
    assert caught.value.chaster_message == "Chaster is grumpy today"
    assert caught.value.status == status
    assert await env.only_task() == before
    assert len(env.feed.events) == events
    assert (await env.audit())[-1] == (f"task.{action}", "refused")


async def test_a_failed_lock_read_before_completing_leaves_the_task_unchanged(
    env: CoreEnv,
) -> None:
    await env.linked()
    await env.assign()
    await env.forget_lock_facts()
    before = await env.only_task()
    env.fake.fail_next("GET", "/sessions/", 502, "Bad gateway, try later")
    with refused(
        Reason.CHASTER_UNAVAILABLE,
        ChasterRefused,
        trouble=Phrase(Trouble.SERVER_ERROR, {"status": 502, "message": "Bad gateway, try later"}),
        consequence=Phrase(Consequence.NOTHING_CHANGED, {}),
    ) as caught:
        await env.act(KH, COMPLETE)
    assert isinstance(caught.value, ChasterRefused)
    assert caught.value.chaster_message == "Bad gateway, try later"
    assert caught.value.status == 502
    assert env.posts("complete") == []
    assert await env.only_task() == before


# ---------------------------------------------------------------------------------- lost answers


async def test_a_lost_complete_that_landed_is_recorded(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign()
    env.fake.hang_next("POST", "/tasks/complete", apply=True, seconds=3.0)
    done = await env.act(KH, COMPLETE)
    assert done.state is TaskState.COMPLETED
    assert done.closed_by == KEYHOLDER
    assert len(env.posts("complete")) == 1
    assert env.feed.kinds()[-1] is EventKind.COMPLETED


async def test_a_lost_fail_that_landed_is_recorded(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign()
    env.fake.hang_next("POST", "/tasks/complete", apply=True, seconds=3.0)
    failed = await env.act(WR, FAIL)
    assert failed.state is TaskState.FAILED
    assert len(env.posts("complete")) == 1
    assert env.feed.kinds()[-1] is EventKind.FAILED


async def test_a_lost_complete_that_did_not_land_changes_nothing(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign()
    before = await env.only_task()
    env.fake.hang_next("POST", "/tasks/complete", apply=False, seconds=3.0)
    # Chaster still shows the task as current: the complete did not land, and is not resent.
    with refused(
        Reason.CHASTER_UNAVAILABLE,
        ChasterRefused,
        trouble=Phrase(Trouble.TIMEOUT, {}),
        consequence=Phrase(Consequence.NOTHING_CHANGED, {}),
    ):
        await env.act(KH, COMPLETE)
    assert len(env.posts("complete")) == 1
    assert env.session.current_task is not None
    assert await env.only_task() == before
    assert env.feed.kinds() == [EventKind.ASSIGNED]


async def test_a_lost_start_timer_that_landed_is_recorded(make_env: EnvFactory) -> None:
    # Chaster refuses the resent start-timer (the timer runs already): that refusal proves the
    # first call landed, so the timer is recorded and the task can be completed once it ends.
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign(duration="1m")
    env.fake.hang_next("POST", "/tasks/start-timer", apply=True, seconds=3.0)
    started = await env.act(KH, START)
    assert started.state is TaskState.TIMER_RUNNING
    assert env.session.timer_started_at is not None
    assert env.feed.kinds()[-1] is EventKind.TIMER_STARTED
    env.advance(60)
    done = await env.act(KH, COMPLETE)
    assert done.state is TaskState.COMPLETED


async def test_a_lost_start_timer_that_did_not_land_is_sent_again(make_env: EnvFactory) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign(duration="1m")
    env.fake.hang_next("POST", "/tasks/start-timer", apply=False, seconds=3.0)
    started = await env.act(WR, START)
    assert started.state is TaskState.TIMER_RUNNING
    assert env.session.timer_started_at is not None
    assert [c.status for c in env.posts("start-timer")] == [None, 201]
    assert env.actors("start-timer") == ["wearer", "wearer"]


async def test_a_resent_start_timer_refused_for_another_reason_changes_nothing(
    make_env: EnvFactory,
) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign(duration="1m")
    env.fake.hang_next("POST", "/tasks/start-timer", apply=False, seconds=3.0)
    env.fake.fail_next("POST", "/tasks/start-timer", 403, "This token may not act on this lock")
    with refused(
        Reason.CHASTER_SAID, ChasterRefused, message="This token may not act on this lock"
    ) as caught:
        await env.act(KH, START)
    assert isinstance(caught.value, ChasterRefused)
    assert caught.value.chaster_message == "This token may not act on this lock"
    assert caught.value.status == 403
    assert env.session.timer_started_at is None
    assert (await env.only_task()).state is TaskState.ASSIGNED


async def test_a_lost_start_timer_with_chaster_gone_quiet_is_refused(
    make_env: EnvFactory,
) -> None:
    env = await make_env(HANG_TIMEOUT)
    await env.linked()
    await env.assign(duration="1m")
    env.fake.hang_next("POST", "/tasks/start-timer", apply=False, seconds=3.0, times=2)
    with refused(Reason.TIMER_OUTCOME_UNKNOWN, trouble=Phrase(Trouble.TIMEOUT, {})):
        await env.act(KH, START)
    assert env.session.timer_started_at is None
    assert (await env.only_task()).state is TaskState.ASSIGNED
    assert env.feed.kinds() == [EventKind.ASSIGNED]


# ---------------------------------------------------------------------------------- events


async def test_completed_event_carries_chaster_points(env: CoreEnv) -> None:
    await env.linked(enable_points=True, points_required=50, points=10)
    await env.assign(points=5)
    done = await env.act(KH, COMPLETE)
    assert (done.points_total, done.points_required) == (15, 50)
    event = env.feed.events[-1]
    assert event.kind is EventKind.COMPLETED
    assert (event.task.points_total, event.task.points_required) == (15, 50)
    assert event.by_user_id == KEYHOLDER


async def test_completed_event_without_chaster_points(env: CoreEnv) -> None:
    await env.linked(enable_points=False)
    await env.assign(points=5)
    done = await env.act(KH, COMPLETE)
    assert (done.points_total, done.points_required) == (None, None)
    assert env.feed.events[-1].kind is EventKind.COMPLETED
    assert env.feed.events[-1].task.points_total is None


async def test_every_step_emits_its_event(env: CoreEnv) -> None:
    await env.linked()
    await env.assign(duration="1m")
    await env.act(KH, START)
    env.advance(60)
    await env.act(WR, COMPLETE)
    await env.act(KH, COMPLETE)
    await env.assign()
    await env.act(WR, FAIL)
    assert env.feed.by() == [
        (EventKind.ASSIGNED, KEYHOLDER),
        (EventKind.TIMER_STARTED, KEYHOLDER),
        (EventKind.CONFIRMATION_REQUESTED, WEARER),
        (EventKind.COMPLETED, KEYHOLDER),
        (EventKind.ASSIGNED, KEYHOLDER),
        (EventKind.FAILED, WEARER),
    ]
    assert [e.channel_id for e in env.feed.events] == [CHANNEL] * 6
    assert [e.task.state for e in env.feed.events] == [
        TaskState.ASSIGNED,
        TaskState.TIMER_RUNNING,
        TaskState.AWAITING_CONFIRMATION,
        TaskState.COMPLETED,
        TaskState.ASSIGNED,
        TaskState.FAILED,
    ]


async def test_a_failing_subscriber_does_not_fail_the_action(env: CoreEnv) -> None:
    seen: list[EventKind] = []

    async def broken(event: Event) -> None:
        raise RuntimeError("Discord is down")

    async def after(event: Event) -> None:
        if isinstance(event, TaskEvent):
            seen.append(event.kind)

    env.core.events.subscribe(broken)
    env.core.events.subscribe(after)
    await env.linked()
    task = await env.assign()
    assert task.state is TaskState.ASSIGNED
    done = await env.act(KH, COMPLETE)
    assert done.state is TaskState.COMPLETED
    assert seen == [EventKind.ASSIGNED, EventKind.COMPLETED]
    assert await env.audit() == [("link", "ok"), ("task.assign", "ok"), ("task.complete", "ok")]


# ---------------------------------------------------------------------------------- reactions


async def test_reactions_find_the_task_and_follow_the_same_rules(env: CoreEnv) -> None:
    await env.linked()
    task = await env.assign()
    message_id = env.feed.message_ids[task.id]
    found = await env.core.tasks.for_message(message_id)
    assert found is not None
    assert found.id == task.id
    assert found.feed_message_id == message_id
    assert found.feed_channel_id == CHANNEL
    assert await env.core.tasks.for_message(message_id + 1) is None
    env.fake.calls.clear()

    with refused(Reason.ONLY_INVOLVED_ACT_ON_THIS_TASK, NotAllowed):
        await env.core.actions.act_on_message(OTHER, found, COMPLETE)
    with refused(Reason.TASK_FROM_OTHER_SERVER, NotAllowed):
        await env.core.actions.act_on_message(Caller(KEYHOLDER, OTHER_GUILD), found, COMPLETE)
    with refused(Reason.NOT_TIMED):
        await env.core.actions.act_on_message(KH, found, START)
    waiting = await env.core.actions.act_on_message(WR, found, COMPLETE)
    assert waiting.state is TaskState.AWAITING_CONFIRMATION
    assert env.fake.calls == []
    done = await env.core.actions.act_on_message(KH, found, COMPLETE)  # a stale copy is fine
    assert done.state is TaskState.COMPLETED
    assert env.actors("complete") == ["keyholder"]
    with refused(Reason.TASK_CLOSED, state=TaskState.COMPLETED):
        await env.core.actions.act_on_message(KH, found, FAIL)
    assert len(env.posts("complete")) == 1
    assert [action for action, _ in await env.audit()][-6:] == [
        "reaction.complete",
        "reaction.complete",
        "reaction.start",
        "reaction.complete",
        "reaction.complete",
        "reaction.fail",
    ]


async def test_reactions_on_a_timed_task(env: CoreEnv) -> None:
    await env.linked()
    task = await env.assign(duration="1m")
    started = await env.core.actions.act_on_message(WR, task, START)
    assert started.state is TaskState.TIMER_RUNNING
    assert started.timer_ends_at is not None
    with refused(Reason.TIMER_RUNNING, at=started.timer_ends_at):
        await env.core.actions.act_on_message(KH, task, COMPLETE)
    env.advance(60)
    done = await env.core.actions.act_on_message(KH, task, COMPLETE)
    assert done.state is TaskState.COMPLETED
    assert env.actors("start-timer") == ["wearer"]
    assert env.actors("complete") == ["keyholder"]


async def test_reaction_after_unlink_is_refused(env: CoreEnv) -> None:
    await env.linked()
    task = await env.assign()
    await env.core.links.unlink(KH, WEARER)
    env.fake.calls.clear()
    with refused(Reason.WEARER_UNLINKED):
        await env.core.actions.act_on_message(KH, task, FAIL)
    assert env.fake.calls == []
    unchanged = await env.store.get_task(task.id)
    assert unchanged is not None and unchanged.state is TaskState.ASSIGNED


async def test_two_concurrent_completes_complete_once(env: CoreEnv) -> None:
    await env.linked()
    task = await env.assign()
    results = await asyncio.gather(
        env.core.actions.act_on_message(KH, task, COMPLETE),
        env.core.actions.act_on_message(KH, task, COMPLETE),
        return_exceptions=True,
    )
    [done] = [r for r in results if isinstance(r, Task)]
    [lost] = [r for r in results if isinstance(r, BaseException)]
    assert done.state is TaskState.COMPLETED
    assert type(lost) is Refused, lost
    assert lost.reason is Reason.TASK_CLOSED, lost
    assert lost.params == {"state": TaskState.COMPLETED}, lost
    assert len(env.posts("complete")) == 1
    assert env.feed.kinds().count(EventKind.COMPLETED) == 1


async def test_a_command_and_a_reaction_at_once_close_the_task_once(env: CoreEnv) -> None:
    await env.linked()
    task = await env.assign()
    results = await asyncio.gather(
        env.act(KH, COMPLETE),
        env.core.actions.act_on_message(WR, task, FAIL),
        return_exceptions=True,
    )
    [won] = [r for r in results if isinstance(r, Task)]
    [lost] = [r for r in results if isinstance(r, BaseException)]
    assert type(lost) is Refused, lost
    # The loser finds the task closed: the reaction re-reads it, the command finds none open.
    if won.state is TaskState.COMPLETED:
        assert (lost.reason, lost.params) == (
            Reason.TASK_CLOSED,
            {"state": TaskState.COMPLETED},
        ), lost
    else:
        assert won.state is TaskState.FAILED
        assert (lost.reason, lost.params) == (
            Reason.NO_OPEN_TASK,
            {"wearer": Person(WEARER)},
        ), lost
    assert len(env.posts("complete")) == 1
    closed = await env.only_task()
    assert not closed.is_open
    assert closed == won
