"""The buttons on feed messages and link requests: which ones a task shows, and their custom
ids, which carry what a press acts on so a press works after a restart with nothing kept per
message (`cogs/buttons.py` turns presses back into core calls)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import discord

from bot.core.model import TaskAction
from bot.discord_side.feed_view import COMPLETE_EMOJI, FAIL_EMOJI, START_EMOJI
from bot.discord_side.voice import Voice
from bot.store import LinkRequest, Task, TaskState

# Custom ids: "task:<action>:<task id>" and "link:<answer>:<request id>". Discord allows 100
# characters; these stay under 40 with the largest snowflake-sized ids.
TASK_BUTTON = re.compile(
    r"task:(?P<action>start|complete|fail|confirm|reject):(?P<task>[0-9]{1,19})"
)
LINK_BUTTON = re.compile(r"link:(?P<answer>accept|decline):(?P<request>[0-9]{1,19})")
# "library:page:<page>" or "library:page:<page>:<tag>" on a /library list's Previous and Next.
PAGE_BUTTON = re.compile(r"library[:]page[:](?P<page>[0-9]{1,4})(?:[:](?P<tag>.{1,32}))?")
# "history:page:<wearer>:<page>" on a /task history's Previous and Next.
HISTORY_BUTTON = re.compile(r"history[:]page[:](?P<wearer>[0-9]{1,19})[:](?P<page>[0-9]{1,5})")
ACCEPT = "accept"
DECLINE = "decline"


@dataclass(frozen=True)
class _Look:
    label_key: str
    style: discord.ButtonStyle
    emoji: str | None


_TASK_LOOKS = {
    TaskAction.START: _Look("button.start", discord.ButtonStyle.primary, START_EMOJI),
    TaskAction.COMPLETE: _Look("button.complete", discord.ButtonStyle.success, COMPLETE_EMOJI),
    TaskAction.FAIL: _Look("button.fail", discord.ButtonStyle.danger, FAIL_EMOJI),
    TaskAction.CONFIRM: _Look("button.confirm", discord.ButtonStyle.success, COMPLETE_EMOJI),
    TaskAction.REJECT: _Look("button.reject", discord.ButtonStyle.secondary, None),
}
_LINK_LOOKS = {
    ACCEPT: _Look("button.accept", discord.ButtonStyle.success, COMPLETE_EMOJI),
    DECLINE: _Look("button.decline", discord.ButtonStyle.secondary, None),
}


def task_custom_id(action: TaskAction, task_id: int) -> str:
    return f"task:{action.value}:{task_id}"


def link_custom_id(answer: str, request_id: int) -> str:
    return f"link:{answer}:{request_id}"


def buttons_for(task: Task, *, reviewing: bool = False) -> list[TaskAction]:
    """The buttons that do something for the task in its current state, in display order;
    none once it is closed. They follow the same rules as the reactions, except that a proof
    task's Complete opens the photo form (not while its photo is under review)."""
    if not task.state.is_open:
        return []
    if reviewing:
        # Only the keyholder may still fail it; the verdict does the rest.
        return [TaskAction.FAIL]
    if task.state is TaskState.AWAITING_CONFIRMATION:
        return [TaskAction.CONFIRM, TaskAction.REJECT, TaskAction.FAIL]
    shown: list[TaskAction] = []
    if task.is_timed and task.state is TaskState.ASSIGNED:
        shown.append(TaskAction.START)
    # Chaster does not let a bot complete a photo-verified task, and a timed task only once its
    # timer has been started.
    elif not task.verification_required:
        shown.append(TaskAction.COMPLETE)
    shown.append(TaskAction.FAIL)
    return shown


def task_buttons(task: Task, voice: Voice, *, reviewing: bool = False) -> discord.ui.View | None:
    """The task's buttons as a view to send or edit with; None when it has none (a closed
    task's message is edited with None, which removes them)."""
    actions = buttons_for(task, reviewing=reviewing)
    if not actions:
        return None
    return _view(
        [(_TASK_LOOKS[action], task_custom_id(action, task.id)) for action in actions], voice
    )


def link_request_buttons(request: LinkRequest, voice: Voice) -> discord.ui.View:
    return _view(
        [(_LINK_LOOKS[answer], link_custom_id(answer, request.id)) for answer in (ACCEPT, DECLINE)],
        voice,
    )


def _view(buttons: list[tuple[_Look, str]], voice: Voice) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for look, custom_id in buttons:
        view.add_item(
            discord.ui.Button(
                label=voice.text(look.label_key),
                style=look.style,
                emoji=look.emoji,
                custom_id=custom_id,
            )
        )
    # Only rendered: presses are dispatched by custom id (`cogs/buttons.py`). A view that is
    # not stopped would be kept by discord.py for every message sent, for ever, and would
    # dispatch each press a second time.
    view.stop()
    return view


def page_buttons(
    page: int, pages: int, voice: Voice, *, custom_id: Callable[[int], str]
) -> discord.ui.View:
    """Previous and Next under page `page` (from 0) of `pages`; `custom_id` names the page a
    button shows. Rendered only: presses reach the page's DynamicItem by custom id."""
    view = discord.ui.View(timeout=None)
    for label, target, disabled in (
        ("button.previous", page - 1, page == 0),
        ("button.next", page + 1, page == pages - 1),
    ):
        view.add_item(
            discord.ui.Button(
                label=voice.text(label),
                custom_id=custom_id(max(target, 0)),
                disabled=disabled,
                style=discord.ButtonStyle.secondary,
            )
        )
    view.stop()
    return view
