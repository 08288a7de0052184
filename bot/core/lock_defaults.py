"""What a link to a lock starts with, as its keyholder (or the wearer of a self-lock) sets it
on the extension's configuration page in Chaster: whether the wearer completes tasks without
confirmation, the consequences of a failed task and of a missed deadline, and a default
deadline. Chaster keeps it as the session's `config`; the bot reads it when a link is made.

The page's form is checked here with the same rules as the slash commands, so a value the bot
could not use is refused on the page and never saved.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.durations import optional_span
from bot.core.errors import Reason, Refused
from bot.core.text import checked_reason
from bot.store import LinkDefaults, PenaltyAction, PenaltyDefault, PenaltyOn

log = logging.getLogger(__name__)

# The config's own version, so a later bot can read what an older one saved.
CONFIG_VERSION = 1
# What the form offers for "may the wearer complete without confirmation".
SERVER_DECIDES = "server"
YES = "yes"
NO = "no"
NO_PENALTY = "none"
_KEYS = {PenaltyOn.FAIL: "onFail", PenaltyOn.DEADLINE: "onDeadline"}


@dataclass(frozen=True)
class FieldRefused(Exception):
    """A form field the bot cannot use: which one, and why."""

    field: str
    refusal: Refused


@dataclass(frozen=True)
class LockDefaults:
    wearer_can_complete: bool | None = None
    penalties: tuple[PenaltyDefault, ...] = ()
    deadline_seconds: int | None = None

    def penalty(self, on: PenaltyOn) -> PenaltyDefault | None:
        return next((p for p in self.penalties if p.on is on), None)

    def for_link(self) -> LinkDefaults:
        return LinkDefaults(
            wearer_can_complete=self.wearer_can_complete,
            deadline_seconds=self.deadline_seconds,
            penalties=self.penalties,
        )

    def to_config(self) -> dict[str, Any]:
        """The session `config` Chaster keeps."""
        config: dict[str, Any] = {
            "version": CONFIG_VERSION,
            "wearerCanComplete": self.wearer_can_complete,
            "deadlineSeconds": self.deadline_seconds,
        }
        for on, key in _KEYS.items():
            penalty = self.penalty(on)
            config[key] = (
                None
                if penalty is None
                else {
                    "action": penalty.action.value,
                    "seconds": penalty.seconds,
                    "reason": penalty.reason,
                }
            )
        return config

    def to_form(self) -> dict[str, Any]:
        """The values the configuration page shows."""
        form: dict[str, Any] = {
            "wearerCanComplete": SERVER_DECIDES
            if self.wearer_can_complete is None
            else (YES if self.wearer_can_complete else NO),
            "deadlineSeconds": self.deadline_seconds,
        }
        for on, key in _KEYS.items():
            penalty = self.penalty(on)
            form[key] = (
                {"action": NO_PENALTY, "seconds": None, "reason": ""}
                if penalty is None
                else {
                    "action": penalty.action.value,
                    "seconds": penalty.seconds,
                    "reason": penalty.reason or "",
                }
            )
        return form

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LockDefaults:
        """What a saved config says; a config the bot cannot read (saved by hand, or by a
        future version) gives no defaults rather than failing the link."""
        if not config:
            return cls()
        try:
            return cls.from_form(_as_form(config))
        except (FieldRefused, TypeError, ValueError):
            log.warning("the session's config is not one the bot can read; no defaults used")
            return cls()

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> LockDefaults:
        """The page's form, checked; FieldRefused names the first field the bot cannot use."""
        choice = form.get("wearerCanComplete", SERVER_DECIDES)
        if choice not in (SERVER_DECIDES, YES, NO):
            raise FieldRefused("wearerCanComplete", Refused(Reason.CONFIG_NOT_UNDERSTOOD))
        penalties = tuple(
            penalty
            for on, key in _KEYS.items()
            if (penalty := _penalty(on, key, form.get(key))) is not None
        )
        return cls(
            wearer_can_complete=None if choice == SERVER_DECIDES else choice == YES,
            penalties=penalties,
            deadline_seconds=_span("deadline", form.get("deadline")),
        )


def _penalty(on: PenaltyOn, key: str, value: Any) -> PenaltyDefault | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise FieldRefused(key, Refused(Reason.CONFIG_NOT_UNDERSTOOD))
    name = value.get("action", NO_PENALTY)
    if name == NO_PENALTY:
        return None
    try:
        action = PenaltyAction(name)
    except ValueError:
        raise FieldRefused(key, Refused(Reason.CONFIG_NOT_UNDERSTOOD)) from None
    seconds = _span(key, value.get("amount"))
    if action is PenaltyAction.FREEZE and seconds is not None:
        raise FieldRefused(key, Refused(Reason.PENALTY_TAKES_NO_AMOUNT, action=action.value))
    if action is not PenaltyAction.FREEZE and seconds is None:
        raise FieldRefused(key, Refused(Reason.PENALTY_NEEDS_AMOUNT, action=action.value))
    raw_reason = value.get("reason")
    if raw_reason is not None and not isinstance(raw_reason, str):
        raise FieldRefused(key, Refused(Reason.CONFIG_NOT_UNDERSTOOD))
    try:
        reason = checked_reason(raw_reason or None)
    except Refused as refusal:
        raise FieldRefused(key, refusal) from None
    if reason is not None and action is not PenaltyAction.PILLORY:
        raise FieldRefused(key, Refused(Reason.PENALTY_REASON_PILLORY_ONLY))
    return PenaltyDefault(on=on, action=action, seconds=seconds, reason=reason)


def _span(field: str, value: Any) -> int | None:
    """A span typed on the page ("2h", "90m"), as the commands read one."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldRefused(field, Refused(Reason.CONFIG_NOT_UNDERSTOOD))
    try:
        return optional_span(value[:40])
    except Refused as refusal:
        raise FieldRefused(field, refusal) from None


def _as_form(config: Mapping[str, Any]) -> dict[str, Any]:
    """A saved config as the form it was made from, so one set of rules reads both."""
    can = config.get("wearerCanComplete")
    form: dict[str, Any] = {
        "wearerCanComplete": SERVER_DECIDES if can is None else (YES if can is True else NO),
        "deadline": _seconds_text(config.get("deadlineSeconds")),
    }
    if can is not None and not isinstance(can, bool):
        raise ValueError("wearerCanComplete is not a boolean")
    for key in _KEYS.values():
        saved = config.get(key)
        if saved is None:
            continue
        if not isinstance(saved, Mapping):
            raise ValueError(f"{key} is not an object")
        form[key] = {
            "action": saved.get("action"),
            "amount": _seconds_text(saved.get("seconds")),
            "reason": saved.get("reason"),
        }
    return form


def _seconds_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("not a number of seconds")
    return f"{value}s"
