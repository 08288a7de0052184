"""Entries in the lock's Chaster history: queued once per action, sent once, settled from the
history after a crash, and none when the server turned them off."""

from __future__ import annotations

from bot.core.errors import NotAllowed, Reason
from bot.core.model import Caller
from bot.store import SessionLink
from tests.core_env import MANAGER, CoreEnv, refused

ENTRY = {
    "title": "Task assigned from Discord",
    "description": "by kim (Discord) — Plank, 5 points",
    "icon": "tasks",
    "color": "#5865f2",
}


def custom_posts(env: CoreEnv) -> list[dict[str, object]]:
    return [
        c.json for c in env.fake.calls if c.method == "POST" and c.path.endswith("/logs/custom")
    ]


def custom_logs(env: CoreEnv) -> list[dict[str, object]]:
    return [log for log in env.session.action_logs if log["type"] == "custom"]


async def write(env: CoreEnv, link: SessionLink, key: str = "task:1:assigned") -> None:
    await env.core.chaster_history.write(link, key=key, **ENTRY)


async def test_an_entry_is_sent_once_in_the_background(env: CoreEnv) -> None:
    link = await env.linked()
    await write(env, link)
    await write(env, link)  # the same action again: not a second entry
    assert custom_posts(env) == []  # queued, not sent inside the action
    await env.run_due()
    assert custom_posts(env) == [{**ENTRY, "role": "extension"}]
    [entry] = custom_logs(env)
    assert (entry["title"], entry["description"], entry["role"]) == (
        ENTRY["title"],
        ENTRY["description"],
        "extension",
    )
    await env.core.chaster_history.resume()
    await env.run_due()
    assert len(custom_posts(env)) == 1


async def test_none_when_the_server_turned_it_off(env: CoreEnv) -> None:
    link = await env.linked()
    settings = await env.core.settings.set_chaster_history(MANAGER, False)
    assert not settings.chaster_history
    await write(env, link)
    await env.run_due()
    assert custom_posts(env) == [] and await env.count("chaster_logs") == 0


async def test_a_crash_while_sending_is_settled_from_the_history(env: CoreEnv) -> None:
    link = await env.linked()
    await write(env, link, "landed")
    await write(env, link, "lost")
    [landed, lost] = await env.store.unsent_chaster_logs()
    for entry in (landed, lost):
        await env.store.move_chaster_log(
            entry.id, from_states=("pending",), to_state="sending", now=env.clock.now()
        )
    # The first reached Chaster before the crash; the second did not.
    await env.chaster.add_custom_log(env.session.session_id, **ENTRY)
    env.fake.calls.clear()
    env.later._heap.clear()  # what the crashed process had planned is gone
    second = {**ENTRY, "description": "by kim (Discord) — Other, 1 points"}
    await env.store.db.write_one(
        "UPDATE chaster_logs SET description = ? WHERE id = ?", (second["description"], lost.id)
    )
    await env.core.chaster_history.resume()
    await env.run_due()
    assert custom_posts(env) == [{**second, "role": "extension"}]
    assert len(custom_logs(env)) == 2
    assert await env.store.unsent_chaster_logs() == []


async def test_a_failure_is_tried_again_then_given_up_quietly(env: CoreEnv) -> None:
    link = await env.linked()
    env.fake.fail_next("POST", "/logs/custom", 503, "Service Unavailable")
    await write(env, link)
    await env.run_due()
    assert custom_logs(env) == []
    env.advance(60)
    await env.run_due()
    assert len(custom_logs(env)) == 1
    # Only a manager changes the setting.
    with refused(Reason.NEEDS_MANAGE_SERVER, NotAllowed):
        await env.core.settings.set_chaster_history(Caller(1, MANAGER.guild_id), False)


async def test_an_earlier_entry_with_the_same_words_is_not_taken_for_a_lost_one(
    env: CoreEnv,
) -> None:
    # Found by the soak: a library task assigned twice makes two entries with the same words.
    # The second's request was lost on its way; its retry found the first in the history and
    # took it for its own, so it was marked sent and never written.
    link = await env.linked()
    await write(env, link, "first")
    await env.run_due()
    env.advance(20)
    env.fake.drop_next("POST", "/logs/custom", apply=False)
    await write(env, link, "second")
    await env.run_due()
    assert len(custom_logs(env)) == 1
    env.advance(60)
    await env.run_due()
    assert len(custom_logs(env)) == 2
    assert await env.store.unsent_chaster_logs() == []


async def test_an_entry_whose_landing_cannot_be_read_is_not_called_sent(env: CoreEnv) -> None:
    link = await env.linked()
    env.fake.drop_next("POST", "/logs/custom", apply=False)
    await write(env, link)
    await env.run_due()
    # The history that would tell cannot be read on the next try: it waits, unsent.
    env.fake.fail_next("POST", "/logs/search", 503, "Service Unavailable")
    env.advance(60)
    await env.run_due()
    [waiting] = await env.store.unsent_chaster_logs()
    assert waiting.state == "sending"
    env.advance(60)
    await env.run_due()
    assert len(custom_logs(env)) == 1
    assert await env.store.unsent_chaster_logs() == []
