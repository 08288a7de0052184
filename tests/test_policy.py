"""The policy table: its shape, the rules the code takes from it, and the README's "Who can do
what" table, which must say the same."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.chaster import Actor
from bot.core.errors import NotAllowed, Reason
from bot.core.model import Caller
from bot.core.policy import (
    POLICY,
    REFUSALS,
    ROLES,
    Action,
    Condition,
    May,
    Role,
    Rule,
    chaster_actor,
    require,
    role_of,
    rule,
)
from bot.store import SessionLink
from tests.core_env import refused

README = Path(__file__).resolve().parent.parent / "README.md"

LINK = SessionLink(
    id=1,
    guild_id=10,
    wearer_id=100,
    keyholder_id=200,
    chaster_session_id="s",
    lock_id="l",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    closed_at=None,
    closed_by=None,
    close_reason=None,
)

# How the README names each action and role.
ACTION_NAMES = {
    Action.LINK: "link a wearer (`/link`)",
    Action.ACCEPT_LINK: "accept a link request (Accept, ✅)",
    Action.DECLINE_LINK: "decline a link request (Decline)",
    Action.UNLINK: "unlink (`/unlink`)",
    Action.ASSIGN: "assign a task (`/task assign`, Assign task, `/task random`, `/task vote`)",
    Action.IMPORT: "import the lock's task list (`/library import`)",
    Action.START: "start a task's timer (`/task start`, Start timer, ▶️)",
    Action.COMPLETE: "complete a task (`/task complete`, Complete, ✅)",
    Action.FAIL: "fail a task (`/task fail`, Fail, ❌)",
    Action.CONFIRM: "confirm a wearer's completion (Confirm, ✅)",
    Action.REJECT: "reject a wearer's completion (Reject)",
    Action.STATUS: "see the task status (`/task status`, `/schedule list`, `/penalty list`)",
    Action.SCHEDULE: (
        "schedule tasks and reminders (`/schedule add`, `/schedule remove`, `/penalty remind`)"
    ),
    Action.PENALTY: "set consequences (`/penalty set`, `/penalty clear`)",
    Action.PAUSE: "pause automation (`/pause`)",
    Action.RESUME: "resume automation (`/resume`)",
    Action.NOTIFY: "choose direct messages for oneself (`/notify`)",
    Action.SETTINGS: "change the settings (`/settings`)",
    Action.PROOF: "send a task's photo for review in Chaster (`/task proof`, Complete)",
    Action.PROOF_SETTINGS: "set how community photo reviews run (`/proof settings`)",
}
ROLE_NAMES = {
    Role.KEYHOLDER: "keyholder of record",
    Role.WEARER: "wearer",
    Role.MANAGER: "Manage Server",
    Role.ANYONE: "anyone else",
}


def cell(action: Action, granted: Rule) -> str:
    """A table cell, as the README words it."""
    if granted.may is May.NO:
        return "—"
    if granted.may is May.ASKS:
        if granted.actor is None:
            return "asks the wearer"
        return f"asks the keyholder (as `{granted.actor}` with wearer-complete)"
    if granted.condition is Condition.HOLDS_THE_LOCK:
        return "yes, if they hold the lock in Chaster"
    if granted.condition is Condition.PAUSED_IT:
        return "yes, if they paused"
    return f"yes, as `{granted.actor}`" if granted.actor else "yes"


def readme_table() -> str:
    header = "| | " + " | ".join(ROLE_NAMES[role] for role in ROLES) + " |"
    lines = [header, "|---" * (len(ROLES) + 1) + "|"]
    for action in Action:
        cells = [cell(action, rule(action, role)) for role in ROLES]
        lines.append(f"| {ACTION_NAMES[action]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_the_readme_table_says_what_the_policy_table_says() -> None:
    assert readme_table() in README.read_text(encoding="utf-8"), readme_table()


def test_every_action_has_a_rule_for_every_role_and_a_refusal() -> None:
    assert set(POLICY) == set(Action) == set(REFUSALS)
    assert all(len(row) == len(ROLES) for row in POLICY.values())
    assert set(ROLES) == set(Role)


def test_only_the_actions_that_write_to_chaster_name_an_actor() -> None:
    writes = {Action.ASSIGN, Action.START, Action.COMPLETE, Action.FAIL, Action.CONFIRM}
    for action, row in POLICY.items():
        for role, granted in zip(ROLES, row, strict=True):
            if granted.may is not May.NO and action in writes:
                assert granted.actor is not None, (action, role)
            else:
                assert granted.actor is None, (action, role)


@pytest.mark.parametrize(
    "action", [Action.ASSIGN, Action.START, Action.COMPLETE, Action.FAIL, Action.CONFIRM]
)
def test_the_keyholder_is_named_in_chaster_only_when_they_hold_the_lock(action: Action) -> None:
    granted = rule(action, Role.KEYHOLDER)
    assert chaster_actor(granted, holds_lock=True) is Actor.KEYHOLDER
    assert chaster_actor(granted, holds_lock=False) is Actor.EXTENSION


def test_the_wearer_is_the_wearer_in_chaster_whoever_holds_the_lock() -> None:
    granted = rule(Action.FAIL, Role.WEARER)
    assert chaster_actor(granted, holds_lock=True) is Actor.WEARER
    assert chaster_actor(granted, holds_lock=False) is Actor.WEARER


def test_a_person_has_one_role_toward_a_wearer() -> None:
    guild = LINK.guild_id
    assert role_of(Caller(200, guild, can_manage_guild=True), LINK) is Role.KEYHOLDER
    assert role_of(Caller(100, guild, can_manage_guild=True), LINK) is Role.WEARER
    assert role_of(Caller(300, guild, can_manage_guild=True), LINK) is Role.MANAGER
    assert role_of(Caller(300, guild), LINK) is Role.ANYONE
    assert role_of(Caller(300, guild, can_manage_guild=True)) is Role.MANAGER
    # In another server nobody holds a role on this server's links, Manage Server included.
    assert role_of(Caller(200, guild + 1, can_manage_guild=True), LINK) is Role.ANYONE


def test_on_a_self_lock_the_wearer_is_their_own_keyholder() -> None:
    self_lock = replace(LINK, keyholder_id=LINK.wearer_id)
    assert role_of(Caller(100, LINK.guild_id), self_lock) is Role.KEYHOLDER


def test_a_refusal_gives_the_actions_reason_unless_the_code_names_a_more_precise_one() -> None:
    with refused(Reason.ONLY_INVOLVED_UNLINK, NotAllowed):
        require(Action.UNLINK, Role.ANYONE)
    with refused(Reason.ONLY_INVOLVED_ACT_ON_THEIR_TASKS, NotAllowed):
        require(Action.START, Role.MANAGER, refusal=Reason.ONLY_INVOLVED_ACT_ON_THEIR_TASKS)
    assert require(Action.COMPLETE, Role.WEARER).may is May.ASKS
