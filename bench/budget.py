"""Scenario 7: how the bot spends Chaster's rate limit.

* what one sweep of 10,000 linked sessions costs, 100 of whose locks have ended (they are then
  read on their own), next to its theoretical minimum;
* how long a completion made inside Chaster takes to reach the feed with webhooks off, at the
  real 100 requests a minute and `CHASTER_POLL_SECONDS=60`;
* 100 `/task status` for 100 wearers within one second, with every state fresh and with every
  state stale: the Chaster requests they cost, and how an unrelated `/link` in another server,
  sent meanwhile, is answered.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench.harness import (
    CHANNEL,
    KEYHOLDER,
    BotKind,
    Deployment,
    Population,
    deployment,
    send_assign,
    send_status,
    session_id,
    wait_chaster_quiet,
    wearer,
)
from bench.stats import percentile
from tests.fakes.discord import OPTION_STRING, InteractionHandle, option, user_option

if TYPE_CHECKING:
    from bench.scenarios import Config, Report

SECTION = "7 rate budget"
PAGE = 100
OTHER_GUILD = 1500
OTHER_CHANNEL = 2500


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _count(deployed: Deployment, method: str, fragment: str, since: int = 0) -> int:
    return sum(
        1
        for call in deployed.chaster.calls[since:]
        if call.method == method and fragment in call.path and call.status != 429
    )


# =============================================================================================
# one sweep of 10,000 linked sessions
# =============================================================================================


async def sweep_cost(config: Config, report: Report, figure: Callable[..., None]) -> None:
    links = config.scale_links
    ended = links // 100
    population = Population(links=links)
    async with deployment("ours", config.root, population) as deployed:
        # The last 1% of the locks ended while the bot was down: the search no longer lists
        # them, so each is read on its own, once, and its link closed.
        for index in range(links - ended, links):
            deployed.chaster.sessions[session_id(index)].lock_status = "unlocked"
        startup = await deployed.start(identify_timeout=120.0, catch_up_timeout=240.0)
        pages = _count(deployed, "POST", "/sessions/search")
        ended_ids = {session_id(i) for i in range(links - ended, links)}
        read_alone = sum(
            1
            for call in deployed.chaster.calls
            if call.method == "GET" and call.path.rsplit("/", 1)[-1] in ended_ids
        )
        other_gets = _count(deployed, "GET", "/sessions/") - read_alone
        report.notes.extend(deployed.notes)
    minimum = math.ceil((links - ended) / PAGE) + ended
    report.details["budget_sweep"] = {
        "links": links,
        "ended_locks": ended,
        "search_pages": pages,
        "read_alone": read_alone,
        "other_single_reads": other_gets,
        "catch_up_s": round(startup.catch_up_s, 2),
        "theoretical_minimum": minimum,
    }
    figure(
        f"one sweep of {links:,} linked sessions, {ended} ended: Chaster requests",
        "",
        pages + read_alone,
        minimum,
        f"<= {math.ceil(links / PAGE) + 1} + {ended} ended",
        pages + read_alone <= math.ceil(links / PAGE) + 1 + ended,
        floor_is="minimum",
    )


# =============================================================================================
# a completion inside Chaster reaching the feed, webhooks off, 100 requests a minute
# =============================================================================================


def _feed_message_of(deployed: Deployment, wearer_id: int) -> int | None:
    for message_id, message in deployed.discord.messages.items():
        if int(message["channel_id"]) != CHANNEL or not message.get("embeds"):
            continue
        if re.match(rf"<@{wearer_id}>", str(message.get("content", ""))):
            return int(message_id)
    return None


def _completed_edit_at(deployed: Deployment, message_id: int) -> float | None:
    for call in deployed.discord.calls:
        if call.method != "PATCH" or not call.path.endswith(f"/messages/{message_id}"):
            continue
        body = call.json if isinstance(call.json, dict) else {}
        titles = [str(e.get("title", "")) for e in body.get("embeds") or []]
        if call.status == 200 and any("Completed" in title for title in titles):
            return call.at
    return None


async def poll_latency(config: Config, report: Report, figure: Callable[..., None]) -> None:
    links, interval = (300, 20) if config.quick else (1_000, 60)
    completions = 3 if config.quick else 5
    environment = {"CHASTER_POLL_SECONDS": str(interval)}
    async with deployment(
        "ours", config.root, Population(links=links), rate_window=60.0, environment=environment
    ) as deployed:
        await deployed.start(catch_up_timeout=120.0)
        discord, chaster = deployed.discord, deployed.chaster
        messages: list[int] = []
        for index in range(completions):
            handle = await send_assign(discord, wearer(index), f"Done in the app {index}")
            await discord.wait_signal(handle.id, "final", 60.0)
            message_id = _feed_message_of(deployed, wearer(index).id)
            if message_id is None:
                raise RuntimeError(f"no feed message for wearer {index}")
            messages.append(message_id)
        throttled = chaster.throttled
        finished_at: list[float] = []
        for index in range(completions):
            # Spread over one interval, so the changes land at different points of a round.
            if index:
                await asyncio.sleep(interval / completions)
            chaster.finish_in_app(session_id(index), completed=True)
            finished_at.append(time.monotonic())
        deadline = time.monotonic() + interval + 30
        edits: list[float | None] = [None] * completions
        while time.monotonic() < deadline and None in edits:
            edits = [_completed_edit_at(deployed, m) for m in messages]
            await asyncio.sleep(0.2)  # polls the record between changes; not a measurement
        delays = [
            None if edited is None else edited - finished
            for edited, finished in zip(edits, finished_at, strict=True)
        ]
        report.notes.extend(deployed.notes)
        report.details["budget_poll"] = {
            "links": links,
            "interval_s": interval,
            "completions": completions,
            "delays_s": [None if d is None else round(d, 2) for d in delays],
            "chaster_429": chaster.throttled - throttled,
            "search_pages_per_round": math.ceil(links / PAGE),
        }
    seen = [d for d in delays if d is not None]
    worst = max(seen) if len(seen) == completions else None
    figure(
        f"Chaster-side completion -> feed edit, {links:,} links, webhooks off, 100/min, "
        f"poll {interval} s: slowest of {completions}",
        "s",
        None if worst is None else round(worst, 2),
        interval,
        f"<= {interval} + 5 s",
        worst is not None and worst <= interval + 5,
        floor_is="one interval",
    )


# =============================================================================================
# 100 /task status within one second, and a /link in another server meanwhile
# =============================================================================================


async def _send_link(deployed: Deployment, index: int) -> InteractionHandle:
    """A keyholder links a wearer's lock (by its id) in the other server."""
    who = wearer(STATUS_WEARERS + index)
    return await deployed.discord.send_slash(
        "link",
        user=KEYHOLDER,
        options=[
            user_option("wearer", who),
            option("session_id", session_id(STATUS_WEARERS + index), OPTION_STRING),
        ],
        channel_id=OTHER_CHANNEL,
        guild_id=OTHER_GUILD,
    )


STATUS_WEARERS = 100
LINKS_MEANWHILE = 10


async def _status_burst(deployed: Deployment, window: float) -> dict[str, Any]:
    discord, chaster = deployed.discord, deployed.chaster
    # The window must be empty when the burst starts, as the theoretical figures assume.
    await asyncio.sleep(window + 0.3)
    mark, throttled = len(chaster.calls), chaster.throttled
    statuses: list[InteractionHandle] = []
    links: list[InteractionHandle] = []
    started = time.monotonic()
    for index in range(STATUS_WEARERS):
        statuses.append(await send_status(discord, wearer(index)))
        if index % (STATUS_WEARERS // LINKS_MEANWHILE) == 5 and deployed.kind == "ours":
            links.append(await _send_link(deployed, len(links)))
        # 100 lookups within one second.
        await asyncio.sleep(max(0.0, started + (index + 1) / STATUS_WEARERS - time.monotonic()))
    status_ids = {session_id(i) for i in range(STATUS_WEARERS)}

    async def latencies(handle: InteractionHandle) -> tuple[float, float] | None:
        first = await discord.wait_signal(handle.id, "first", 120.0)
        final = await discord.wait_signal(handle.id, "final", 120.0)
        if first is None or final is None:
            return None
        return first - handle.dispatched_at, final - handle.dispatched_at

    status_times = [await latencies(h) for h in statuses]
    link_times = [await latencies(h) for h in links]
    status_reads = sum(
        1
        for call in chaster.calls[mark:]
        if call.method == "GET" and call.path.rsplit("/", 1)[-1] in status_ids
    )

    def p99(times: list[tuple[float, float] | None], at: int) -> float | None:
        """The 99th percentile of one of the two latencies; None if any went unanswered."""
        got = [pair[at] for pair in times if pair is not None]
        return percentile(got, 99) if got and len(got) == len(times) else None

    return {
        "status_chaster_requests": status_reads,
        "status_final_p99_ms": _ms(p99(status_times, 1)),
        "link_first_p99_ms": _ms(p99(link_times, 0)),
        "link_final_p99_ms": _ms(p99(link_times, 1)),
        "links_answered": sum(1 for pair in link_times if pair is not None),
        "chaster_429": chaster.throttled - throttled,
    }


async def status_burst(config: Config, report: Report, figure: Callable[..., None]) -> None:
    window = 6.0
    population = Population(links=STATUS_WEARERS + LINKS_MEANWHILE)
    results: dict[str, dict[str, Any]] = {}
    # Global commands (no DISCORD_GUILD_ID), so they can be run in the other server too.
    runs: list[tuple[str, BotKind, dict[str, str]]] = [
        ("fresh", "ours", {"DISCORD_GUILD_ID": ""}),
        ("stale", "ours", {"DISCORD_GUILD_ID": "", "CHASTER_FRESH_SECONDS": "0"}),
        ("floor", "floor", {}),
    ]
    for name, kind, environment in runs:
        async with deployment(
            kind,
            config.root,
            population,
            rate_window=window,
            environment=environment,
        ) as deployed:
            await deployed.start()
            await wait_chaster_quiet(deployed.chaster, timeout=30.0, quiet=0.3)
            if kind == "ours":
                await deployed.discord.join_other_server(OTHER_GUILD, OTHER_CHANNEL)
            results[name] = await _status_burst(deployed, window)
            report.notes.extend(deployed.notes)
    report.details["budget_status"] = {"window_s": window, "limit": 100, **results}
    fresh, stale, floor = results["fresh"], results["stale"], results["floor"]
    figure(
        "100 /task status in 1 s, states fresh: Chaster requests",
        "",
        fresh["status_chaster_requests"],
        floor["status_chaster_requests"],
        "0",
        fresh["status_chaster_requests"] == 0,
    )
    figure(
        "100 /task status in 1 s, states stale: Chaster requests",
        "",
        stale["status_chaster_requests"],
        floor["status_chaster_requests"],
        "<= 100",
        stale["status_chaster_requests"] <= 100,
    )
    for name, result in (("fresh", fresh), ("stale", stale)):
        figure(
            f"/link in another server meanwhile ({name}): first response p99",
            "ms",
            result["link_first_p99_ms"],
            None,
            "-",
            None,
        )
        final = result["link_final_p99_ms"]
        figure(
            f"/link in another server meanwhile ({name}): final answer p99",
            "ms",
            final,
            None,
            "<= 1 s" if name == "fresh" else "info",
            (final is not None and final <= 1000) if name == "fresh" else None,
        )
    throttled = fresh["chaster_429"] + stale["chaster_429"]
    figure(
        "429s received during the bursts", "", throttled, floor["chaster_429"], "0", not throttled
    )


async def budget(config: Config, report: Report) -> None:
    from bench.scenarios import Figure

    def figure(
        name: str,
        unit: str,
        ours: float | None,
        floor: float | None,
        target: str,
        met: bool | None,
        *,
        floor_is: str = "floor",
    ) -> None:
        if floor_is != "floor":
            name = f"{name} (floor column: {floor_is})"
        report.add(Figure(SECTION, name, unit, ours, floor, target, met))

    await sweep_cost(config, report, figure)
    await status_burst(config, report, figure)
    await poll_latency(config, report, figure)
