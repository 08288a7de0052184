"""The configuration page's defaults: checked with the commands' rules, saved in Chaster's
session config, read back when a link is made."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.errors import Reason
from bot.core.lock_defaults import FieldRefused, LockDefaults
from bot.store import PenaltyAction, PenaltyOn

NOTHING = {"action": "none", "amount": "", "reason": ""}


def form(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "wearerCanComplete": "server",
        "deadline": "",
        "onFail": dict(NOTHING),
        "onDeadline": dict(NOTHING),
    }
    base.update(changes)
    return base


def test_an_empty_form_sets_nothing() -> None:
    defaults = LockDefaults.from_form(form())
    assert defaults == LockDefaults()
    assert LockDefaults.from_config(defaults.to_config()) == defaults


def test_every_value_survives_chaster_and_back() -> None:
    defaults = LockDefaults.from_form(
        form(
            wearerCanComplete="no",
            deadline="1d",
            onFail={"action": "pillory", "amount": "30m", "reason": "Late again"},
            onDeadline={"action": "freeze", "amount": "", "reason": ""},
        )
    )
    assert defaults.wearer_can_complete is False
    assert defaults.deadline_seconds == 86400
    fail = defaults.penalty(PenaltyOn.FAIL)
    assert fail is not None
    assert (fail.action, fail.seconds, fail.reason) == (PenaltyAction.PILLORY, 1800, "Late again")
    assert LockDefaults.from_config(defaults.to_config()) == defaults
    shown = defaults.to_form()
    assert shown["wearerCanComplete"] == "no"
    assert shown["onFail"] == {"action": "pillory", "seconds": 1800, "reason": "Late again"}


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"deadline": "forever"}, "deadline", Reason.DURATION_UNREADABLE),
        ({"deadline": "8d"}, "deadline", Reason.SPAN_OUT_OF_RANGE),
        ({"deadline": 30}, "deadline", Reason.CONFIG_NOT_UNDERSTOOD),
        ({"wearerCanComplete": "maybe"}, "wearerCanComplete", Reason.CONFIG_NOT_UNDERSTOOD),
        ({"onFail": {"action": "spank"}}, "onFail", Reason.CONFIG_NOT_UNDERSTOOD),
        ({"onFail": {"action": "add_time", "amount": ""}}, "onFail", Reason.PENALTY_NEEDS_AMOUNT),
        (
            {"onDeadline": {"action": "freeze", "amount": "1h"}},
            "onDeadline",
            Reason.PENALTY_TAKES_NO_AMOUNT,
        ),
        (
            {"onFail": {"action": "add_time", "amount": "1h", "reason": "why"}},
            "onFail",
            Reason.PENALTY_REASON_PILLORY_ONLY,
        ),
        (
            {"onFail": {"action": "pillory", "amount": "1h", "reason": "a\u202eb"}},
            "onFail",
            Reason.DESCRIPTION_BIDI,
        ),
        ({"onFail": "add_time"}, "onFail", Reason.CONFIG_NOT_UNDERSTOOD),
    ],
)
def test_a_value_the_bot_cannot_use_names_its_field(
    changes: dict[str, Any], field: str, reason: Reason
) -> None:
    with pytest.raises(FieldRefused) as caught:
        LockDefaults.from_form(form(**changes))
    assert (caught.value.field, caught.value.refusal.reason) == (field, reason)


@pytest.mark.parametrize(
    "config",
    [
        {"wearerCanComplete": "yes"},
        {"deadlineSeconds": "2h"},
        {"deadlineSeconds": 10},
        {"onFail": {"action": "explode", "seconds": 60}},
        {"onFail": ["add_time"]},
    ],
)
def test_a_config_the_bot_cannot_read_gives_no_defaults(config: dict[str, Any]) -> None:
    assert LockDefaults.from_config(config) == LockDefaults()
