"""The invariants, checked against the fakes' own records and the bot's database.

Chaster's truth is the fake's history of each lock (`action_logs`: every task assigned,
completed and failed, every lock action, every custom entry, with who made it); Discord's is
the fake's messages and the interactions' answers. The bot's database is read only to know
which task a row stands for; a claim is never taken from it alone.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.soak.people import IN_APP, feed_task_id, feed_wearer
from bench.soak.record import Record
from bench.soak.world import SECRETS, SLUG, World
from bot.i18n.catalogue import default_catalogue

ASSIGNED_LOGS = ("tasks_task_assigned", "tasks_vote_ended")
FINISHED_LOGS = {"tasks_task_completed": "completed", "tasks_task_failed": "failed"}
# Discord's window for an interaction's first response (the fake marks one later as late),
# and a second more before an unanswered one counts as never answered.
FIRST_RESPONSE_SECONDS = 3.0
ANSWER_WAIT = FIRST_RESPONSE_SECONDS + 1.0
# What closes a task when the bot answers it did: a command or a feed message's button.
CLOSING = ("complete", "fail", "button-complete", "button-fail")
# A write that lands this long after the pause was answered cannot have been in flight.
PAUSE_MARGIN = timedelta(seconds=1)

_catalogue = default_catalogue()


def english(key: str, count: int | None = None) -> str:
    """The fixed start of an English message (up to its first placeholder)."""
    return _catalogue.template("en", key, count).split("{")[0]


ASSIGNED = english("reply.assigned", 1)
COMPLETED = english("reply.done.complete")
FAILED = english("reply.done.fail")
PAUSED = english("reply.paused")
RESUMED = english("reply.resumed")
HEADLINES = {
    "assigned": (english("feed.headline.assigned"),),
    "timer_running": (
        english("feed.headline.timer-running"),
        english("feed.headline.timer-finished"),
    ),
    "awaiting_confirmation": (english("feed.headline.awaiting-confirmation"),),
    "completed": (english("feed.headline.completed"),),
    "failed": (english("feed.headline.failed"), english("feed.headline.missed-deadline")),
}


@dataclass(frozen=True)
class Violation:
    step: int
    invariant: str
    detail: str


@dataclass
class Episode:
    """One task in a lock's Chaster history."""

    description: str
    by_bot: bool
    assigned_at: datetime
    outcome: str | None = None
    finished_by_bot: bool = False
    finished_at: datetime | None = None


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def episodes(logs: list[dict[str, Any]]) -> list[Episode]:
    found: list[Episode] = []
    for log in logs:
        if log["type"] in ASSIGNED_LOGS:
            found.append(
                Episode(str(log["description"]), log["extension"] == SLUG, _when(log["createdAt"]))
            )
        elif log["type"] in FINISHED_LOGS and found and found[-1].outcome is None:
            found[-1].outcome = FINISHED_LOGS[log["type"]]
            found[-1].finished_by_bot = log["extension"] == SLUG
            found[-1].finished_at = _when(log["createdAt"])
    return found


@contextlib.contextmanager
def read_only(path: str) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    connection.row_factory = sqlite3.Row
    try:
        yield connection
    finally:
        connection.close()


@dataclass
class Snapshot:
    links: list[sqlite3.Row]
    tasks: list[sqlite3.Row]
    consequences: list[sqlite3.Row]
    chaster_logs: list[sqlite3.Row]
    penalties: list[sqlite3.Row]
    schedules: list[sqlite3.Row]

    def session_of_link(self) -> dict[int, str]:
        return {int(link["id"]): str(link["chaster_session_id"]) for link in self.links}

    def guild_of_link(self) -> dict[int, int]:
        return {int(link["id"]): int(link["guild_id"]) for link in self.links}

    def rows_of(self, rows: list[sqlite3.Row], session_id: str) -> list[sqlite3.Row]:
        sessions = self.session_of_link()
        return [row for row in rows if sessions.get(int(row["link_id"])) == session_id]


def snapshot(world: World) -> Snapshot:
    with read_only(str(world.database)) as db:

        def rows(sql: str) -> list[sqlite3.Row]:
            return list(db.execute(sql))

        return Snapshot(
            links=rows("SELECT * FROM session_links ORDER BY id"),
            tasks=rows("SELECT * FROM tasks ORDER BY id"),
            consequences=rows("SELECT * FROM consequences ORDER BY id"),
            chaster_logs=rows("SELECT * FROM chaster_logs ORDER BY id"),
            penalties=rows("SELECT * FROM penalties"),
            schedules=rows("SELECT * FROM schedules"),
        )


class Checks:
    def __init__(self, world: World, record: Record) -> None:
        self.world = world
        self.record = record
        self.wall_began = datetime.now(UTC) - timedelta(seconds=time.monotonic() - record.began)
        self._log_seen = 0
        self._discord_seen = 0
        self._chaster_seen = 0
        self._answered_checked = 0

    def wall(self, monotonic: float) -> datetime:
        return self.wall_began + timedelta(seconds=monotonic - self.record.began)

    def _violation(self, invariant: str, detail: str, step: int | None = None) -> Violation:
        return Violation(self.record.step if step is None else step, invariant, detail)

    # -- checked all along -------------------------------------------------------------------

    def continuous(self) -> list[Violation]:
        data = snapshot(self.world)
        new_log = self._new_log()
        found: list[Violation] = []
        for check in (
            lambda: self.no_429(),
            lambda: self.no_secret(new_log),
            lambda: self.no_error_logged(new_log),
            lambda: self.first_responses(final=False),
            lambda: self.servers_apart(data),
            lambda: self.paused_links_untouched(data),
            lambda: self.writes_not_doubled(data, final=False),
        ):
            found += check()
        return found

    def no_429(self) -> list[Violation]:
        self.record.checks["no-429"] += 1
        throttled = self.world.chaster.throttled
        if throttled:
            return [self._violation("no-429", f"Chaster's limit answered 429 {throttled} time(s)")]
        return []

    def _new_log(self) -> str:
        """What the bot logged since the last look."""
        log = self.world.log_text()
        new, self._log_seen = log[self._log_seen :], len(log)
        return new

    def no_error_logged(self, new_log: str) -> list[Violation]:
        """Every fault is one the bot expects: it logs warnings, never an error or a traceback
        (a handler that failed leaves someone without the message they needed)."""
        self.record.checks["no-error-logged"] += 1
        return [
            self._violation("no-error-logged", line[:300])
            for line in new_log.splitlines()
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
        ]

    def no_secret(self, new_log: str) -> list[Violation]:
        """No token or password in the bot's log, any Discord request, any Chaster request."""
        self.record.checks["no-secret"] += 1
        discord = self.world.discord.calls[self._discord_seen :]
        self._discord_seen += len(discord)
        chaster = self.world.chaster.calls[self._chaster_seen :]
        self._chaster_seen += len(chaster)
        texts = [("the bot's log", new_log)]
        texts += [(f"Discord {c.method} {c.path}", json.dumps(c.json)) for c in discord]
        texts += [(f"Chaster {c.method} {c.path}", json.dumps(c.json)) for c in chaster]
        return [
            self._violation("no-secret", f"a secret in {where}")
            for where, text in texts
            if any(secret in text for secret in SECRETS)
        ]

    def first_responses(self, *, final: bool) -> list[Violation]:
        """Every interaction sent while the bot was up, and not disrupted in its 3 s, was
        acknowledged in time."""
        found: list[Violation] = []
        now = time.monotonic()
        sent = self.record.sent
        upto = len(sent) if final else self._answered_checked
        if not final:
            while upto < len(sent) and now - sent[upto].handle.dispatched_at > ANSWER_WAIT:
                upto += 1
        for item in sent[self._answered_checked : upto]:
            self.record.checks["first-response"] += 1
            began = item.handle.dispatched_at
            if not item.up or self.world.disrupted_between(began, began + ANSWER_WAIT):
                continue
            first = item.first_response()
            if first is None or first["status"] != 200 or first["late"]:
                what = (
                    "none" if first is None else f"status {first['status']}, late {first['late']}"
                )
                found.append(
                    self._violation(
                        "first-response",
                        f"interaction {item.handle.id} ({item.action}): {what}",
                        item.step,
                    )
                )
        self._answered_checked = upto
        return found

    def servers_apart(self, data: Snapshot) -> list[Violation]:
        """A feed message is in its own server's channel and about a wearer linked there."""
        self.record.checks["servers-apart"] += 1
        guild_of_link = data.guild_of_link()
        link_of_task = {int(t["id"]): int(t["link_id"]) for t in data.tasks}
        found = []
        for pair_channel in {p.channel for p in self.world.pairs}:
            guild = self.world.guild_of_channel(pair_channel)
            for message in self.world.discord.bot_messages(pair_channel):
                task_id = feed_task_id(message)
                if task_id is None:
                    continue
                wearer = feed_wearer(message)
                pair = self.world.pair_of(wearer) if wearer is not None else None
                link = link_of_task.get(task_id)
                if (
                    pair is None
                    or pair.guild != guild
                    or (link is not None and guild_of_link[link] != guild)
                ):
                    found.append(
                        self._violation(
                            "servers-apart", f"message {message['id']} in server {guild}"
                        )
                    )
        return found

    def pause_intervals(self) -> dict[str, list[tuple[datetime, datetime | None]]]:
        """When each lock's automation was paused, by the bot's own answers: from the pause's
        answer to the resume's request."""
        events: list[tuple[float, str, str]] = []
        for item in self.record.sent:
            if item.action not in ("pause", "resume") or item.session_id is None:
                continue
            text, at = item.answer()
            if item.action == "pause" and text.startswith(PAUSED) and at is not None:
                events.append((at, "pause", item.session_id))
            elif item.action == "resume" and text.startswith(RESUMED):
                events.append((item.handle.dispatched_at, "resume", item.session_id))
        intervals: dict[str, list[tuple[datetime, datetime | None]]] = {}
        for at, kind, session in sorted(events):
            mine = intervals.setdefault(session, [])
            if kind == "pause" and (not mine or mine[-1][1] is not None):
                mine.append((self.wall(at) + PAUSE_MARGIN, None))
            elif kind == "resume" and mine and mine[-1][1] is None:
                mine[-1] = (mine[-1][0], self.wall(at))
        return intervals

    def paused_links_untouched(self, data: Snapshot) -> list[Violation]:
        """While paused: no consequence applied, no schedule's task, no deadline failed."""
        self.record.checks["paused-untouched"] += 1
        found = []

        def paused(session: str, at: datetime) -> bool:
            return any(
                start < at and (end is None or at < end)
                for start, end in intervals.get(session, [])
            )

        intervals = self.pause_intervals()
        for session_id in intervals:
            for log in self.world.chaster.sessions[session_id].action_logs:
                if log["type"] == "time_changed" and paused(session_id, _when(log["createdAt"])):
                    found.append(
                        self._violation(
                            "paused-untouched", f"time added to {session_id} while paused"
                        )
                    )
        sessions = data.session_of_link()
        for task in data.tasks:
            session = sessions[int(task["link_id"])]
            if task["schedule_id"] is not None and paused(session, _when(task["assigned_at"])):
                found.append(
                    self._violation(
                        "paused-untouched", f"schedule gave task #{task['id']} while paused"
                    )
                )
            missed = task["deadline_missed_at"]
            if missed is not None and paused(session, _when(missed)):
                found.append(
                    self._violation(
                        "paused-untouched", f"deadline failed task #{task['id']} while paused"
                    )
                )
        return found

    def writes_not_doubled(self, data: Snapshot, *, final: bool) -> list[Violation]:
        """Per lock: no more tasks assigned by the bot than it has tasks for (one may be on its
        way while running), no more time added than consequences, no more custom entries than
        it wrote down to send."""
        self.record.checks["writes-not-doubled"] += 1
        found = []
        in_flight = 0 if final else 1
        for pair in self.world.pairs:
            logs = self.world.chaster.sessions[pair.session_id].action_logs
            assigned = sum(1 for e in episodes(logs) if e.by_bot)
            rows = [
                t
                for t in data.rows_of(data.tasks, pair.session_id)
                if not str(t["description"]).startswith(IN_APP)
            ]
            if assigned > len(rows) + in_flight:
                found.append(
                    self._violation(
                        "one-assign-per-task",
                        f"{pair.session_id}: {assigned} tasks assigned by the bot in Chaster, "
                        f"{len(rows)} in the bot",
                    )
                )
            added = sum(1 for log in logs if log["type"] == "time_changed")
            consequences = [
                c
                for c in data.rows_of(data.consequences, pair.session_id)
                if c["state"] in ("applying", "applied", "unknown")
            ]
            if added > len(consequences):
                found.append(
                    self._violation(
                        "one-consequence-per-occasion",
                        f"{pair.session_id}: time added {added} times for {len(consequences)} "
                        "consequences",
                    )
                )
            custom = sum(1 for log in logs if log["type"] == "custom")
            written = [
                c
                for c in data.rows_of(data.chaster_logs, pair.session_id)
                if c["state"] in ("sending", "sent", "failed")
            ]
            if custom > len(written):
                found.append(
                    self._violation(
                        "one-custom-log-per-action",
                        f"{pair.session_id}: {custom} custom entries for {len(written)} sent",
                    )
                )
            if final:
                applied = sum(1 for c in consequences if c["state"] == "applied")
                sent = sum(1 for c in written if c["state"] == "sent")
                if added < applied:
                    found.append(
                        self._violation(
                            "accepted-not-lost",
                            f"{pair.session_id}: {applied} consequences applied, {added} seen",
                        )
                    )
                if custom < sent:
                    found.append(
                        self._violation(
                            "accepted-not-lost",
                            f"{pair.session_id}: {sent} custom entries sent, {custom} in Chaster",
                        )
                    )
        return found

    # -- checked at the end ------------------------------------------------------------------

    def tasks_agree(self, data: Snapshot) -> list[Violation]:
        """Each lock's tasks in the bot are its tasks in Chaster, in order and with the same
        outcome; each task Chaster has from the bot is one the bot has (no second assign for
        one intent, no completion landing on the next task)."""
        self.record.checks["tasks-agree"] += 1
        found = []
        for pair in self.world.pairs:
            history = episodes(self.world.chaster.sessions[pair.session_id].action_logs)
            at = 0
            for row in data.rows_of(data.tasks, pair.session_id):
                match = next(
                    (
                        j
                        for j in range(at, len(history))
                        if history[j].description == row["description"]
                    ),
                    None,
                )
                if match is None:
                    found.append(
                        self._violation(
                            "accepted-not-lost",
                            f"{pair.session_id}: task #{row['id']} {row['description']!r} "
                            "is not in Chaster's history",
                        )
                    )
                    continue
                skipped = [e for e in history[at:match] if e.by_bot]
                found += [
                    self._violation(
                        "one-assign-per-task",
                        f"{pair.session_id}: {e.description!r} assigned by the bot with no task",
                    )
                    for e in skipped
                ]
                episode, at = history[match], match + 1
                state = str(row["state"])
                open_row = state not in ("completed", "failed")
                if episode.outcome is None and not open_row:
                    found.append(
                        self._violation(
                            "tasks-agree", f"task #{row['id']} is {state} but open in Chaster"
                        )
                    )
                elif episode.outcome is not None and episode.outcome != state:
                    found.append(
                        self._violation(
                            "tasks-agree",
                            f"task #{row['id']} is {state} but {episode.outcome} in Chaster",
                        )
                    )
            found += [
                self._violation(
                    "one-assign-per-task",
                    f"{pair.session_id}: {e.description!r} assigned by the bot with no task",
                )
                for e in history[at:]
                if e.by_bot
            ]
        return found

    def accepted_not_lost(self, data: Snapshot) -> list[Violation]:
        """Every assign, completion and failure the bot answered with success is in Chaster's
        history; every pause and resume it confirmed is the link's state."""
        self.record.checks["accepted-not-lost"] += 1
        found = []
        last_pause: dict[str, tuple[float, bool]] = {}
        for item in self.record.sent:
            if item.session_id is None:
                continue
            text, at = item.answer()
            history = episodes(self.world.chaster.sessions[item.session_id].action_logs)
            sent_at = self.wall(item.handle.dispatched_at)
            if item.action == "assign" and text.startswith(ASSIGNED):
                if not any(e.by_bot and e.description == item.description for e in history):
                    found.append(
                        self._violation(
                            "accepted-not-lost",
                            f"{item.description!r} answered as assigned",
                            item.step,
                        )
                    )
            elif item.action in CLOSING and text.startswith((COMPLETED, FAILED)):
                outcome = "completed" if text.startswith(COMPLETED) else "failed"
                if not any(
                    e.finished_by_bot
                    and e.outcome == outcome
                    and e.finished_at
                    and e.finished_at >= sent_at
                    for e in history
                ):
                    found.append(
                        self._violation(
                            "accepted-not-lost",
                            f"{item.action} of {item.session_id} answered {text!r}, not in Chaster",
                            item.step,
                        )
                    )
            elif item.action in ("pause", "resume") and at is not None:
                if text.startswith(PAUSED):
                    last_pause[item.session_id] = max(
                        last_pause.get(item.session_id, (0.0, False)), (at, True)
                    )
                elif text.startswith(RESUMED):
                    last_pause[item.session_id] = max(
                        last_pause.get(item.session_id, (0.0, False)), (at, False)
                    )
        paused_now = {
            str(link["chaster_session_id"]): link["paused_at"] is not None
            for link in data.links
            if link["closed_at"] is None
        }
        for session, (_, paused) in last_pause.items():
            if paused_now.get(session) != paused:
                found.append(
                    self._violation(
                        "accepted-not-lost",
                        f"{session} was last answered {'paused' if paused else 'resumed'}",
                    )
                )
        return found

    def feed_converged(self, data: Snapshot) -> list[Violation]:
        """Every open task in Chaster has exactly one feed message showing its state; every
        closed one that has a message shows its outcome there, and only there."""
        self.record.checks["feed-converged"] += 1
        found = []
        by_task: dict[int, list[dict[str, Any]]] = {}
        for channel in {p.channel for p in self.world.pairs}:
            for message in self.world.discord.bot_messages(channel):
                task_id = feed_task_id(message)
                if task_id is not None:
                    by_task.setdefault(task_id, []).append(message)
        for pair in self.world.pairs:
            session = self.world.chaster.sessions[pair.session_id]
            rows = data.rows_of(data.tasks, pair.session_id)
            open_rows = [r for r in rows if r["state"] not in ("completed", "failed")]
            current = session.current_task
            if current is not None:
                if [str(r["description"]) for r in open_rows] != [current["task"]]:
                    found.append(
                        self._violation(
                            "feed-converged",
                            f"{pair.session_id}: Chaster's task {current['task']!r}, the bot's "
                            f"open tasks {[str(r['description']) for r in open_rows]}",
                        )
                    )
                    continue
            elif open_rows:
                found.append(
                    self._violation(
                        "feed-converged",
                        f"{pair.session_id}: no task in Chaster, open in the bot: "
                        f"{[int(r['id']) for r in open_rows]}",
                    )
                )
                continue
            for row in rows:
                messages = by_task.get(int(row["id"]), [])
                state = str(row["state"])
                is_open = state not in ("completed", "failed")
                if len(messages) > 1 or (is_open and not messages):
                    found.append(
                        self._violation(
                            "feed-converged",
                            f"task #{row['id']} ({state}) has {len(messages)} feed messages",
                        )
                    )
                    continue
                for message in messages:
                    title = str((message.get("embeds") or [{}])[0].get("title", ""))
                    if not any(title.endswith(h) for h in HEADLINES[state]):
                        found.append(
                            self._violation(
                                "feed-converged",
                                f"task #{row['id']} is {state}, its message says {title!r}",
                            )
                        )
        return found

    def final(self) -> list[Violation]:
        data = snapshot(self.world)
        new_log = self._new_log()
        return [
            *self.no_429(),
            *self.no_secret(new_log),
            *self.no_error_logged(new_log),
            *self.first_responses(final=True),
            *self.servers_apart(data),
            *self.paused_links_untouched(data),
            *self.writes_not_doubled(data, final=True),
            *self.tasks_agree(data),
            *self.accepted_not_lost(data),
        ]
