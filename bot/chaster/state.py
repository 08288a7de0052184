"""What the bot keeps of a lock between readings.

Plain slotted records rather than the wire models: the state view holds one per linked session,
and at 10,000 links the parsed payloads would cost about 50 MB where these cost about 4 MB.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime

from bot.chaster.models import Lock, TaskDetails

# Lock statuses after which the lock is over; any other (today only "locked") is running.
ENDED_LOCK_STATUSES = frozenset({"unlocked", "deserted"})


@dataclass(frozen=True, slots=True)
class CurrentTask:
    """The wearer's current task in Chaster."""

    task: str
    points: int
    verification_required: bool
    # Seconds; None when the task is not timed.
    duration: int | None
    # Whether Chaster reports the timer as started; None when it does not say.
    timer_started: bool | None

    @property
    def is_timed(self) -> bool:
        return bool(self.duration)

    @classmethod
    def of(cls, details: TaskDetails) -> CurrentTask:
        return cls(
            task=details.task,
            points=details.points,
            verification_required=details.verification_required,
            duration=details.duration or None,
            timer_started=details.timer_started(),
        )

    def details(self) -> TaskDetails:
        return TaskDetails(
            task=self.task,
            points=self.points,
            verification_required=self.verification_required,
            duration=self.duration,
        )


@dataclass(frozen=True, slots=True, weakref_slot=True)
class ListedTask:
    """One task of the lock's own list (the Tasks extension's configuration).

    Equal tasks are one object (`of`): a keyholder's wearers often share a list, and every
    sweep would otherwise keep a fresh copy of each list's every task.
    """

    task: str
    points: int
    verification_required: bool
    # Seconds; None when the task is not timed.
    duration: int | None

    @classmethod
    def of(cls, details: TaskDetails) -> ListedTask:
        task = cls(
            task=details.task,
            points=details.points,
            verification_required=details.verification_required,
            duration=details.duration or None,
        )
        # Held weakly: a task no lock lists any more is forgotten, key and all.
        key = (task.task, task.points, task.verification_required, task.duration)
        return _LISTED.setdefault(key, task)


_LISTED: weakref.WeakValueDictionary[tuple[str, int, bool, int | None], ListedTask] = (
    weakref.WeakValueDictionary()
)


@dataclass(frozen=True, slots=True)
class TasksSnapshot:
    """The Tasks extension on a lock: its points settings and live state."""

    enable_points: bool
    points_required: int
    # start = no task, pending = a task is assigned, vote = a vote is running.
    status: str
    current_task: CurrentTask | None
    points: int
    vote_ends_at: datetime | None
    # The lock's own task list, for drawing from and suggesting while typing.
    task_list: tuple[ListedTask, ...] = ()

    @property
    def has_open_task(self) -> bool:
        return self.status != "start" or self.current_task is not None


PILLORY_SLUG = "pillory"


@dataclass(frozen=True, slots=True)
class LockState:
    """A lock as the bot needs it: whose it is, who holds it, and its Tasks extension."""

    lock_id: str
    status: str
    wearer_discord_id: str | None
    keyholder_discord_id: str | None
    # None when the lock has no Tasks extension.
    tasks: TasksSnapshot | None
    # Whether the Pillory extension is on the lock (a pillory consequence needs it).
    has_pillory: bool = False
    # Chaster's own user ids: a link code proves who someone is by these, where Chaster does
    # not know their Discord account.
    wearer_chaster_id: str | None = None
    keyholder_chaster_id: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED_LOCK_STATUSES

    @classmethod
    def of(cls, lock: Lock) -> LockState:
        parsed = lock.tasks
        tasks = None
        if parsed is not None:
            data = parsed.user_data
            current = data.current_task
            tasks = TasksSnapshot(
                enable_points=parsed.config.enable_points,
                points_required=parsed.config.points_required,
                status=data.status,
                current_task=CurrentTask.of(current) if current is not None else None,
                points=data.points,
                vote_ends_at=data.vote_ends_at,
                task_list=tuple(ListedTask.of(task) for task in parsed.config.listed_tasks()),
            )
        return cls(
            lock_id=lock.id,
            status=lock.status,
            wearer_discord_id=lock.user.discord_id,
            keyholder_discord_id=lock.keyholder.discord_id if lock.keyholder else None,
            tasks=tasks,
            has_pillory=any(party.slug == PILLORY_SLUG for party in lock.extensions),
            wearer_chaster_id=lock.user.id,
            keyholder_chaster_id=lock.keyholder.id if lock.keyholder else None,
        )
