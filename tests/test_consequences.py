"""Consequences: what happens to the lock when a task fails or misses its deadline. Set only by
the keyholder who holds the lock in Chaster (or the wearer of a self-lock); applied once per
task, settled from the lock's history after a crash or a lost answer, never while paused."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from bot.chaster import LockAction, LockActionName
from bot.core.consequences import RETRY_DELAYS, SETTLE_DELAY
from bot.core.errors import Codes, NotAllowed, Person, Reason
from bot.core.model import AutomationEventKind, Caller, EventKind
from bot.discord_side.voice import Voice
from bot.store import Consequence, ConsequenceState, PenaltyAction, PenaltyOn, Task, TaskState
from tests.core_env import (
    CHANNEL,
    FAIL,
    GUILD,
    KEYHOLDER,
    KH,
    OTHER,
    STRANGER,
    WEARER,
    WR,
    CoreEnv,
    automation_events,
    refused,
)
from tests.fakes.chaster import make_user
from tests.test_sync import timers_of

HOUR = 3600
LANGUAGES = ("en", "fr", "de", "es")


def lock_action_posts(env: CoreEnv) -> list[dict[str, object]]:
    return [
        call.json["action"]
        for call in env.fake.calls
        if call.method == "POST" and call.path.endswith("/action")
    ]


def consequence_kinds(env: CoreEnv) -> list[AutomationEventKind]:
    return [event.kind for event in automation_events(env)]


async def penalised(
    env: CoreEnv,
    action: str = "add_time",
    amount: str | None = "1h",
    *,
    on: str = "fail",
    reason: str | None = None,
    **lock: Any,
) -> None:
    """WEARER linked by the lock's keyholder, with a consequence set."""
    await env.linked(**lock)
    await env.core.penalties.set(KH, WEARER, on=on, action=action, amount=amount, reason=reason)
    env.fake.calls.clear()


async def failed_task(env: CoreEnv, by: Caller = KH, assigner: Caller = KH) -> Task:
    """A task assigned and failed: its consequence is recorded, not yet applied."""
    await env.assign(assigner)
    failed = await env.act(by, FAIL)
    env.fake.calls.clear()
    return failed


async def consequence_of(env: CoreEnv, task: Task) -> Consequence:
    found = await env.store.consequence_for_task(task.id)
    assert found is not None
    return found


async def mark_applying(env: CoreEnv, consequence: Consequence) -> Consequence:
    """What a crash between the mark and Chaster's answer leaves behind."""
    moved = await env.store.move_consequence(
        consequence.id,
        from_states=(ConsequenceState.PENDING,),
        to_state=ConsequenceState.APPLYING,
        now=env.clock.now(),
    )
    assert moved is not None
    return moved


# ---------------------------------------------------------------------------------- effects


async def test_add_time_after_a_fail_moves_the_end_date(env: CoreEnv) -> None:
    await penalised(env, "add_time", "1h")
    end = env.session.end_date
    assert end is not None
    task = await failed_task(env)
    recorded = await consequence_of(env, task)
    assert (recorded.state, recorded.on, recorded.action, recorded.seconds) == (
        ConsequenceState.PENDING,
        PenaltyOn.FAIL,
        PenaltyAction.ADD_TIME,
        HOUR,
    )
    # Applied from the jobs, not inside the keyholder's own action.
    assert lock_action_posts(env) == []
    assert env.session.end_date == end

    await env.run_due()
    assert lock_action_posts(env) == [{"name": "add_time", "params": HOUR}]
    assert env.session.end_date == end + timedelta(hours=1)
    [entry] = env.fake.lock_actions(env.session.session_id)
    assert (entry["type"], entry["payload"]) == ("time_changed", {"duration": HOUR})
    applied = await consequence_of(env, task)
    assert applied.state is ConsequenceState.APPLIED
    [event] = automation_events(env)
    assert event.kind is AutomationEventKind.CONSEQUENCE_APPLIED
    assert event.consequence == applied
    assert event.task is not None and event.task.id == task.id
    assert ("consequence.apply", "ok") in await env.audit()


async def test_freeze_after_a_wearers_fail_freezes_the_lock(env: CoreEnv) -> None:
    await penalised(env, "freeze", None)
    assert env.session.frozen_at is None
    await failed_task(env, by=WR)
    await env.run_due()
    assert lock_action_posts(env) == [{"name": "freeze"}]
    assert env.session.frozen_at == env.clock.now()
    assert consequence_kinds(env) == [AutomationEventKind.CONSEQUENCE_APPLIED]


async def test_pillory_after_a_fail_puts_the_wearer_in_it_with_the_reason(env: CoreEnv) -> None:
    await penalised(env, "pillory", "30m", reason="Skipped the plank", pillory=True)
    await failed_task(env)
    await env.run_due()
    assert lock_action_posts(env) == [
        {"name": "pillory", "params": {"duration": 1800, "reason": "Skipped the plank"}}
    ]
    [pillory] = env.session.pillories
    assert (pillory["duration"], pillory["reason"]) == (1800, "Skipped the plank")


async def test_a_missed_deadline_applies_the_deadline_consequence(env: CoreEnv) -> None:
    await penalised(env, "add_time", "2h", on="deadline")
    await env.core.penalties.set(KH, WEARER, on="fail", action="freeze")
    end = env.session.end_date
    assert end is not None
    timers_of(env)
    task = await env.core.tasks.assign(
        KH, WEARER, description="Plank", points=1, deadline="10m", channel_id=CHANNEL
    )
    env.advance(600)
    await env.run_due()
    assert (await env.only_task()).missed_deadline
    consequence = await consequence_of(env, task)
    assert (consequence.on, consequence.state) == (PenaltyOn.DEADLINE, ConsequenceState.APPLIED)
    assert lock_action_posts(env) == [{"name": "add_time", "params": 2 * HOUR}]
    assert env.session.end_date == end + timedelta(hours=2)
    assert env.session.frozen_at is None


async def test_a_plain_fail_does_not_apply_the_deadline_consequence(env: CoreEnv) -> None:
    await penalised(env, "add_time", "2h", on="deadline")
    task = await failed_task(env)
    await env.run_due()
    assert await env.store.consequence_for_task(task.id) is None
    assert lock_action_posts(env) == []


# ---------------------------------------------------------------------------------- who sets them


async def test_a_keyholder_accepted_by_consent_cannot_set_consequences(env: CoreEnv) -> None:
    session = env.add_lock(pillory=True)
    outcome = await env.core.links.link(OTHER, WEARER, session.session_id, CHANNEL)
    assert outcome.request is not None
    link = await env.core.links.confirm(WR, outcome.request)
    assert link.keyholder_id == STRANGER
    for action, amount in (("add_time", "1h"), ("freeze", None), ("pillory", "10m")):
        with refused(Reason.ONLY_LOCK_KEYHOLDER_PENALTIES, keyholder=Person(STRANGER)):
            await env.core.penalties.set(OTHER, WEARER, on="fail", action=action, amount=amount)
    with refused(Reason.ONLY_LOCK_KEYHOLDER_PENALTIES, keyholder=Person(STRANGER)):
        await env.core.penalties.clear(OTHER, WEARER, "all")
    assert await env.count("penalties") == 0
    # The reminder's lead changes nothing in Chaster: they may set it.
    assert (await env.core.penalties.remind(OTHER, WEARER, "10m")).remind_before_seconds == 600


async def test_the_wearer_of_a_self_lock_sets_their_own(env: CoreEnv) -> None:
    await env.linked(keyholder=False)
    _, penalty = await env.core.penalties.set(
        WR, WEARER, on="fail", action="add_time", amount="15m"
    )
    assert (penalty.set_by, penalty.seconds) == (WEARER, 900)
    end = env.session.end_date
    assert end is not None
    await failed_task(env, by=WR, assigner=WR)
    await env.run_due()
    assert env.session.end_date == end + timedelta(minutes=15)


async def test_the_wearer_of_a_keyholders_lock_and_strangers_cannot(env: CoreEnv) -> None:
    await env.linked()
    for caller in (WR, OTHER):
        with refused(Reason.ONLY_KEYHOLDER_PENALTIES, NotAllowed):
            await env.core.penalties.set(caller, WEARER, on="fail", action="freeze")
    assert await env.count("penalties") == 0


async def test_pillory_needs_the_pillory_extension(env: CoreEnv) -> None:
    await env.linked()
    with refused(Reason.PILLORY_MISSING):
        await env.core.penalties.set(KH, WEARER, on="fail", action="pillory", amount="10m")
    assert await env.count("penalties") == 0


@pytest.mark.parametrize(
    ("options", "reason", "params"),
    [
        (
            {"action": "freeze", "amount": "1h"},
            Reason.PENALTY_TAKES_NO_AMOUNT,
            {"action": "freeze"},
        ),
        ({"action": "add_time"}, Reason.PENALTY_NEEDS_AMOUNT, {"action": "add_time"}),
        ({"action": "pillory"}, Reason.PENALTY_NEEDS_AMOUNT, {"action": "pillory"}),
        (
            {"action": "add_time", "amount": "1h", "reason": "Late"},
            Reason.PENALTY_REASON_PILLORY_ONLY,
            {},
        ),
        ({"action": "freeze", "reason": "Late"}, Reason.PENALTY_REASON_PILLORY_ONLY, {}),
        ({"action": "add_time", "amount": "59s"}, Reason.SPAN_OUT_OF_RANGE, {}),
        (
            {"action": "spank", "amount": "1h"},
            Reason.UNKNOWN_PENALTY,
            {"input": "spank", "choices": Codes(("add_time", "freeze", "pillory"))},
        ),
        (
            {"on": "sunday", "action": "freeze"},
            Reason.UNKNOWN_PENALTY,
            {"input": "sunday", "choices": Codes(("fail", "deadline"))},
        ),
    ],
    ids=[
        "freeze-amount",
        "add-time-no-amount",
        "pillory-no-amount",
        "add-time-reason",
        "freeze-reason",
        "amount-too-short",
        "unknown-action",
        "unknown-on",
    ],
)
async def test_bad_options_are_refused_before_anything_else(
    env: CoreEnv, options: dict[str, str], reason: Reason, params: dict[str, Any]
) -> None:
    await env.linked(pillory=True)
    options.setdefault("on", "fail")
    with refused(reason, **params):
        await env.core.penalties.set(KH, WEARER, **options)
    assert env.fake.calls == []
    assert await env.count("penalties") == 0


async def test_set_replaces_clear_removes_and_both_are_listed(env: CoreEnv) -> None:
    await env.linked()
    await env.core.penalties.set(KH, WEARER, on="fail", action="add_time", amount="1h")
    await env.core.penalties.set(KH, WEARER, on="fail", action="add_time", amount="2h")
    await env.core.penalties.set(KH, WEARER, on="deadline", action="freeze")
    link, penalties = await env.core.penalties.of_wearer(WR, WEARER)
    assert link.wearer_id == WEARER
    assert [(p.on, p.action, p.seconds) for p in penalties] == [
        (PenaltyOn.DEADLINE, PenaltyAction.FREEZE, None),
        (PenaltyOn.FAIL, PenaltyAction.ADD_TIME, 2 * HOUR),
    ]
    with refused(Reason.ONLY_INVOLVED_SEE_STATUS, NotAllowed):
        await env.core.penalties.of_wearer(OTHER, WEARER)
    with refused(Reason.UNKNOWN_PENALTY, choices=Codes(("fail", "deadline", "all"))):
        await env.core.penalties.clear(KH, WEARER, "everything")
    assert (await env.core.penalties.clear(KH, WEARER, "fail"))[1] == 1
    assert (await env.core.penalties.clear(KH, WEARER, "all"))[1] == 1
    assert (await env.core.penalties.clear(KH, WEARER, "all"))[1] == 0
    # Nothing left to apply.
    task = await failed_task(env)
    await env.run_due()
    assert await env.store.consequence_for_task(task.id) is None


# ---------------------------------------------------------------------------------- exactly once


async def test_a_consequence_is_applied_once_however_often_it_is_run(env: CoreEnv) -> None:
    await penalised(env)
    task = await failed_task(env)
    consequence = await consequence_of(env, task)
    first, second = await asyncio.gather(
        env.core.consequences.apply(consequence.id), env.core.consequences.apply(consequence.id)
    )
    assert [c is not None for c in (first, second)].count(True) == 1
    assert await env.core.consequences.apply(consequence.id) is None
    await env.run_due()
    assert len(lock_action_posts(env)) == 1
    assert len(env.fake.lock_actions(env.session.session_id)) == 1
    assert consequence_kinds(env) == [AutomationEventKind.CONSEQUENCE_APPLIED]
    # A second FAILED event for the same task (a webhook and the bot's own) records nothing.
    link = await env.store.get_link(task.link_id)
    assert link is not None
    await env.core.events.task_event(EventKind.FAILED, task, link, None)
    await env.run_due()
    assert len(lock_action_posts(env)) == 1


async def test_a_consequence_being_sent_is_not_taken_for_a_crashed_one(env: CoreEnv) -> None:
    """While its call is on its way, the consequence is 'applying' in the store, as after a
    crash; a second run must not read the history and send it again before the first call
    has been answered."""
    await penalised(env)
    task = await failed_task(env)
    consequence = await consequence_of(env, task)
    # Chaster applies it at once but answers only later.
    env.fake.hang_next("POST", "/action", apply=True, seconds=0.5)
    first = asyncio.create_task(env.core.consequences.apply(consequence.id))
    await env.fake.wait_for_call("POST", "/action")
    assert (await consequence_of(env, task)).state is ConsequenceState.APPLYING
    assert await env.core.consequences.apply(consequence.id) is None
    assert env.fake.count_calls("POST", "/logs/search") == 0
    applied = await first
    assert applied is not None and applied.state is ConsequenceState.APPLIED
    assert len(env.fake.lock_actions(env.session.session_id)) == 1
    assert env.fake.count_calls("POST", "/action") == 1


async def test_a_crash_before_the_call_reached_chaster_applies_it_now(env: CoreEnv) -> None:
    await penalised(env)
    end = env.session.end_date
    assert end is not None
    task = await failed_task(env)
    await mark_applying(env, await consequence_of(env, task))
    # Start-up: what was being applied is settled from the history.
    timers = timers_of(env)
    await timers.start()
    await timers.deadlines.stop()
    await env.run_due()
    assert len(lock_action_posts(env)) == 1
    assert env.session.end_date == end + timedelta(hours=1)
    assert (await consequence_of(env, task)).state is ConsequenceState.APPLIED
    assert consequence_kinds(env) == [AutomationEventKind.CONSEQUENCE_APPLIED]


async def test_a_crash_after_the_call_reached_chaster_is_not_applied_again(env: CoreEnv) -> None:
    await penalised(env)
    end = env.session.end_date
    assert end is not None
    task = await failed_task(env)
    consequence = await mark_applying(env, await consequence_of(env, task))
    # The call landed; the bot died before it heard.
    await env.chaster.apply_lock_action(
        env.session.session_id, LockAction(LockActionName.ADD_TIME, HOUR)
    )
    env.fake.calls.clear()
    settled = await env.core.consequences.apply(consequence.id)
    assert settled is not None and settled.state is ConsequenceState.APPLIED
    assert lock_action_posts(env) == []
    assert env.session.end_date == end + timedelta(hours=1)
    assert consequence_kinds(env) == [AutomationEventKind.CONSEQUENCE_APPLIED]


async def test_an_older_entry_in_the_history_is_not_taken_for_this_one(env: CoreEnv) -> None:
    await penalised(env)
    # An hour added by this extension two hours ago, for another reason.
    await env.chaster.apply_lock_action(
        env.session.session_id, LockAction(LockActionName.ADD_TIME, HOUR)
    )
    env.advance(2 * HOUR)
    task = await failed_task(env)
    consequence = await mark_applying(env, await consequence_of(env, task))
    settled = await env.core.consequences.apply(consequence.id)
    assert settled is not None and settled.state is ConsequenceState.APPLIED
    assert len(lock_action_posts(env)) == 1
    assert len(env.fake.lock_actions(env.session.session_id)) == 2


async def test_an_unreadable_history_leaves_it_unknown_and_not_applied(env: CoreEnv) -> None:
    await penalised(env)
    task = await failed_task(env)
    consequence = await mark_applying(env, await consequence_of(env, task))
    env.fake.fail_next("POST", "/logs/search", 503, "Service Unavailable")
    settled = await env.core.consequences.apply(consequence.id)
    assert settled is not None and settled.state is ConsequenceState.UNKNOWN
    assert settled.detail is not None
    assert lock_action_posts(env) == []
    [event] = automation_events(env)
    assert event.kind is AutomationEventKind.CONSEQUENCE_UNKNOWN
    assert event.refusal is not None
    assert event.refusal.reason is Reason.CONSEQUENCE_HISTORY_UNREADABLE
    # Found by the soak: the reason lacked a parameter its words need, and the keyholder's
    # warning was never posted. It reads in every language.
    for language in LANGUAGES:
        assert "{" not in Voice(language).refusal(event.refusal)
    assert Voice("en").refusal(event.refusal) == (
        "reading the lock's history: Chaster is having trouble (HTTP 503: Service Unavailable)"
    )
    # Never tried again, by anyone.
    assert await env.core.consequences.apply(consequence.id) is None
    await env.core.consequences.resume()
    await env.run_due()
    assert lock_action_posts(env) == []
    assert env.fake.lock_actions(env.session.session_id) == []


async def test_a_lost_answer_is_settled_from_the_history_once(env: CoreEnv) -> None:
    await penalised(env)
    end = env.session.end_date
    assert end is not None
    task = await failed_task(env)
    env.fake.drop_next("POST", "/action", apply=True)
    await env.run_due()
    assert len(lock_action_posts(env)) == 1
    assert (await consequence_of(env, task)).state is ConsequenceState.APPLYING
    assert automation_events(env) == []
    env.advance(SETTLE_DELAY.total_seconds() - 1)
    assert await env.run_due() == 0
    env.advance(1)
    assert await env.run_due() == 1
    assert len(lock_action_posts(env)) == 1
    assert env.session.end_date == end + timedelta(hours=1)
    assert (await consequence_of(env, task)).state is ConsequenceState.APPLIED
    assert consequence_kinds(env) == [AutomationEventKind.CONSEQUENCE_APPLIED]


async def test_a_lost_request_that_never_landed_is_sent_once_more(env: CoreEnv) -> None:
    await penalised(env)
    end = env.session.end_date
    assert end is not None
    task = await failed_task(env)
    env.fake.drop_next("POST", "/action", apply=False)
    await env.run_due()
    assert env.session.end_date == end
    # The history shows it never landed: it is tried again like any call Chaster did not take.
    env.advance(SETTLE_DELAY.total_seconds())
    await env.run_due()
    assert (await consequence_of(env, task)).state is ConsequenceState.PENDING
    assert len(lock_action_posts(env)) == 1
    env.advance(RETRY_DELAYS[0].total_seconds())
    await env.run_due()
    assert len(lock_action_posts(env)) == 2
    assert len(env.fake.lock_actions(env.session.session_id)) == 1
    assert env.session.end_date == end + timedelta(hours=1)
    assert (await consequence_of(env, task)).state is ConsequenceState.APPLIED


async def test_chaster_offline_is_tried_again_later(env: CoreEnv) -> None:
    await penalised(env)
    task = await failed_task(env)
    await env.fake.go_offline()
    await env.run_due()
    assert (await consequence_of(env, task)).state is ConsequenceState.PENDING
    await env.fake.go_online()
    env.advance(RETRY_DELAYS[0].total_seconds())
    await env.run_due()
    assert (await consequence_of(env, task)).state is ConsequenceState.APPLIED
    assert len(env.fake.lock_actions(env.session.session_id)) == 1


async def test_chaster_offline_through_every_retry_is_reported_not_applied(env: CoreEnv) -> None:
    await penalised(env)
    task = await failed_task(env)
    await env.fake.go_offline()
    await env.run_due()
    for delay in RETRY_DELAYS:
        assert (await consequence_of(env, task)).state is ConsequenceState.PENDING
        env.advance(delay.total_seconds())
        await env.run_due()
    given_up = await consequence_of(env, task)
    assert given_up.state is ConsequenceState.REFUSED
    [event] = automation_events(env)
    assert event.kind is AutomationEventKind.CONSEQUENCE_REFUSED
    assert event.refusal is not None and event.refusal.reason is Reason.CHASTER_UNAVAILABLE
    for language in LANGUAGES:
        assert "{" not in Voice(language).refusal(event.refusal)
    assert (
        Voice("en")
        .refusal(event.refusal)
        .startswith("Chaster could not be reached; nothing was changed.")
    )
    await env.fake.go_online()
    env.advance(HOUR)
    await env.run_due()
    assert env.fake.lock_actions(env.session.session_id) == []


async def test_a_chaster_that_keeps_failing_is_not_asked_forever(env: CoreEnv) -> None:
    """Chaster's 500s may come after the change was made: each is settled from the history,
    which shows it did not land, and counts as a try; after the last, the keyholder is told."""
    await penalised(env)
    task = await failed_task(env)
    env.fake.fail_next("POST", "/action", 500, "Internal server error", times=1000)
    await env.run_due()
    for _ in range(40):
        env.advance(SETTLE_DELAY.total_seconds())
        await env.run_due()
    assert len(lock_action_posts(env)) == 1 + len(RETRY_DELAYS)
    given_up = await consequence_of(env, task)
    assert given_up.state is ConsequenceState.REFUSED
    [event] = automation_events(env)
    assert event.kind is AutomationEventKind.CONSEQUENCE_REFUSED
    assert env.fake.lock_actions(env.session.session_id) == []


async def test_chaster_refusing_it_is_reported(env: CoreEnv) -> None:
    await penalised(env, "pillory", "10m", pillory=True)
    task = await failed_task(env)
    # The Pillory extension was taken off the lock since.
    env.session.pillory_extension = False
    await env.run_due()
    refused_ = await consequence_of(env, task)
    assert refused_.state is ConsequenceState.REFUSED
    [event] = automation_events(env)
    assert event.kind is AutomationEventKind.CONSEQUENCE_REFUSED
    assert event.refusal is not None and event.refusal.reason is Reason.PILLORY_MISSING
    assert env.session.pillories == []


# ---------------------------------------------------------------------------------- when none


async def test_a_pause_cancels_what_is_pending_and_nothing_is_sent(env: CoreEnv) -> None:
    await penalised(env)
    task = await failed_task(env)
    await env.core.pause.pause(WR, WEARER)
    await env.run_due()
    assert env.fake.calls == []
    assert (await consequence_of(env, task)).state is ConsequenceState.CANCELLED
    assert automation_events(env) == []
    # Resuming does not bring it back.
    await env.core.pause.resume(WR, WEARER)
    await env.core.consequences.resume()
    await env.run_due()
    assert lock_action_posts(env) == []


async def test_one_being_sent_when_the_pause_began_is_settled_after_it(env: CoreEnv) -> None:
    await penalised(env)
    end = env.session.end_date
    assert end is not None
    task = await failed_task(env)
    consequence = await mark_applying(env, await consequence_of(env, task))
    await env.chaster.apply_lock_action(
        env.session.session_id, LockAction(LockActionName.ADD_TIME, HOUR)
    )
    env.fake.calls.clear()
    await env.core.pause.pause(WR, WEARER)
    # While paused not even the history is read: it may have landed, so it is not cancelled.
    assert await env.core.consequences.apply(consequence.id) is None
    assert env.fake.calls == []
    assert (await consequence_of(env, task)).state is ConsequenceState.APPLYING
    await env.core.pause.resume(WR, WEARER)
    await env.run_due()
    assert (await consequence_of(env, task)).state is ConsequenceState.APPLIED
    assert lock_action_posts(env) == []
    assert env.session.end_date == end + timedelta(hours=1)


async def test_a_task_failed_while_paused_has_no_consequence(env: CoreEnv) -> None:
    await penalised(env)
    await env.assign()
    await env.core.pause.pause(KH, WEARER)
    task = await env.act(KH, FAIL)
    await env.run_due()
    assert await env.store.consequence_for_task(task.id) is None
    assert lock_action_posts(env) == []


async def test_losing_the_tasks_extension_is_no_failure(env: CoreEnv) -> None:
    await penalised(env, "freeze", None)
    await env.assign()
    env.fake.remove_tasks_extension(env.session.session_id)
    await env.core.sync.sync_session(env.session.session_id)
    closed = await env.only_task()
    assert closed.state is TaskState.FAILED
    assert env.feed.by()[-1] == (EventKind.FAILED, None)
    await env.run_due()
    assert await env.store.consequence_for_task(closed.id) is None
    assert lock_action_posts(env) == []
    assert env.session.frozen_at is None


async def test_a_lock_that_changed_hands_since_is_not_changed(env: CoreEnv) -> None:
    await penalised(env)
    await env.assign()
    # The lock goes to another keyholder in Chaster; the bot learns it on its next read.
    env.session.keyholder = make_user(role="keyholder", discord_id="999")
    await env.core.sync.sync_session(env.session.session_id)
    link = await env.store.get_open_link(GUILD, WEARER)
    assert link is not None and link.keyholder_is_lock_keyholder is False
    task = await env.act(KH, FAIL)
    env.fake.calls.clear()
    await env.run_due()
    assert lock_action_posts(env) == []
    consequence = await consequence_of(env, task)
    assert consequence.state is ConsequenceState.REFUSED
    assert consequence_kinds(env) == [AutomationEventKind.CONSEQUENCE_REFUSED]


async def test_the_wearer_meant_is_the_one_the_keyholder_holds(env: CoreEnv) -> None:
    await env.linked()
    link, penalty = await env.core.penalties.set(KH, None, on="fail", action="freeze")
    assert link.wearer_id == WEARER and penalty.link_id == link.id
    assert (await env.core.pause.pause(WR, None)).wearer_id == WEARER
    # A second wearer held here: which one is meant can no longer be guessed.
    second = env.fake.add_session(
        wearer_discord_id=str(STRANGER), keyholder_discord_id=str(KEYHOLDER)
    )
    await env.core.links.link(KH, STRANGER, second.session_id, CHANNEL)
    with refused(Reason.NAME_THE_WEARER, count=2):
        await env.core.penalties.clear(KH, None, "all")
    assert len(await env.store.penalties_of(link.id)) == 1
    # Named, it is that one.
    _, cleared = await env.core.penalties.clear(KH, WEARER, "all")
    assert cleared == 1
