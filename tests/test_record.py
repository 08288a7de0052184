"""The record: a wearer's history in pages, and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from bot.core.errors import NotAllowed, Reason
from bot.core.record import PAGE_SIZE, GivenBy, Outcome, formula_safe, given_by, outcome_of
from tests.core_env import CHANNEL, COMPLETE, FAIL, KH, OTHER, WEARER, WR, CoreEnv, refused


async def finished_tasks(env: CoreEnv, count: int) -> None:
    """`count` tasks given and failed by the keyholder, each taking a minute."""
    for n in range(count):
        await env.assign(description=f"Task {n}")
        env.advance(60)
        await env.act(KH, FAIL)


async def test_history_pages_newest_first(env: CoreEnv) -> None:
    await env.linked()
    await finished_tasks(env, PAGE_SIZE * 2 + 3)
    first = await env.core.record.history(WR, WEARER)
    assert (first.page, first.pages, first.total) == (0, 3, 23)
    assert [t.description for t in first.tasks] == [f"Task {n}" for n in range(22, 12, -1)]
    last = await env.core.record.history(KH, WEARER, 2)
    assert [t.description for t in last.tasks] == ["Task 2", "Task 1", "Task 0"]
    # A page past the end shows the last one.
    assert (await env.core.record.history(KH, WEARER, 99)).page == 2


async def test_history_is_for_the_wearer_and_their_keyholder_only(env: CoreEnv) -> None:
    await env.linked()
    with refused(Reason.ONLY_INVOLVED_SEE_STATUS, NotAllowed):
        await env.core.record.history(OTHER, WEARER)
    with refused(Reason.ONLY_INVOLVED_SEE_STATUS, NotAllowed):
        await env.core.record.export(OTHER, WEARER)


async def test_outcomes_and_who_gave_each_task(env: CoreEnv) -> None:
    await env.linked()
    await env.assign(description="Done")
    await env.allow_wearer_complete()
    await env.act(WR, COMPLETE)
    await env.core.tasks.assign(
        KH, WEARER, description="Late", points=1, deadline="1m", channel_id=CHANNEL
    )
    env.advance(61)
    await env.core.deadlines.expire((await env.only_task()).id)
    env.fake.assign_in_app(env.session.session_id, "From the app", 2)
    await env.core.sync.sync_session(env.session.session_id)
    page = await env.core.record.history(WR, WEARER)
    shown = {t.description: (outcome_of(t), given_by(t)) for t in page.tasks}
    assert shown == {
        "Done": (Outcome.COMPLETED, GivenBy.PERSON),
        "Late": (Outcome.MISSED_DEADLINE, GivenBy.PERSON),
        "From the app": (Outcome.OPEN, GivenBy.CHASTER),
    }


async def test_the_export_is_csv_that_reads_back(env: CoreEnv) -> None:
    await env.linked()
    await env.assign(description='=HYPERLINK("x"), "quoted", and, commas')
    env.advance(90)
    await env.act(KH, FAIL)
    await env.assign(description="@mention me\nsecond line")
    data = await env.core.record.export(WR, WEARER)
    text = data.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["task"] for row in rows] == [
        "'@mention me\nsecond line",
        '\'=HYPERLINK("x"), "quoted", and, commas',
    ]
    open_row, failed_row = rows
    assert (open_row["outcome"], open_row["finished_at"], open_row["took_seconds"]) == (
        "open",
        "",
        "",
    )
    assert failed_row["outcome"] == "failed" and failed_row["took_seconds"] == "90"
    assert failed_row["given_by"] == "person" and failed_row["given_by_user_id"] == str(KH.user_id)
    assigned = env.clock.now() - timedelta(seconds=90)
    assert failed_row["assigned_at"] == assigned.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ("task.export", "ok") in await env.audit()


def test_formula_safe_cells() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert formula_safe(f"{start}1+1") == f"'{start}1+1"
    assert formula_safe("Plank - 2 minutes") == "Plank - 2 minutes"
    assert formula_safe("") == ""
