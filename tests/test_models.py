"""The models parse real Chaster payloads unchanged (tests/fixtures, copied verbatim)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.chaster.models import ActionLog, ActionLogPage, ExtensionSession, WebhookEnvelope

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_webhook_session_created_parses() -> None:
    envelope = WebhookEnvelope.model_validate(fixture("webhook-extension_session.created.json"))
    assert envelope.event == "extension_session.created"
    assert envelope.request_id == "n4cF9MPhGtNM0Gu539mbk"
    session = ExtensionSession.model_validate(envelope.data["session"])
    assert session.session_id == "LuV23MTfUFvxu3j-BASHc"
    lock = session.lock
    assert lock.id == "67b628fe56fc9b66f325a376"
    assert lock.keyholder is None
    assert lock.user.discord_id is None
    tasks = lock.tasks
    assert tasks is not None
    assert tasks.user_data.status == "start"
    assert tasks.current_task is None
    assert tasks.user_data.points == 0
    assert tasks.config.enable_points is False
    assert tasks.config.points_required == 0
    assert not tasks.has_open_task


def test_lock_without_tasks_extension() -> None:
    raw = fixture("webhook-extension_session.created.json")["data"]["session"]
    raw["lock"]["extensions"] = [e for e in raw["lock"]["extensions"] if e["slug"] != "tasks"]
    assert ExtensionSession.model_validate(raw).lock.tasks is None


def test_current_task_with_unknown_keys() -> None:
    raw = fixture("webhook-extension_session.created.json")["data"]["session"]
    tasks = next(e for e in raw["lock"]["extensions"] if e["slug"] == "tasks")
    tasks["userData"].update(
        status="pending",
        points=12,
        currentTask={"task": "Stand", "points": 5, "duration": 900, "somethingNew": {"a": 1}},
    )
    tasks["config"].update(enablePoints=True, pointsRequired=50)
    state = ExtensionSession.model_validate(raw).lock.tasks
    assert state is not None and state.current_task is not None
    assert state.current_task.task == "Stand"
    assert state.current_task.is_timed
    assert state.user_data.points == 12
    assert state.config.points_required == 50
    assert state.has_open_task


def test_logs_page_parses() -> None:
    page = ActionLogPage.model_validate(fixture("logs-search-response.json"))
    assert page.count == 1 and not page.has_more
    log = page.results[0]
    assert log.type == "locked" and log.prefix == "default" and log.role == "user"
    assert log.user is not None and log.user.discord_id == "100000000000000001"
    assert log.task_details() is None


@pytest.mark.parametrize(
    ("payload", "text", "points"),
    [
        ({"task": {"task": "Kneel", "points": 3}}, "Kneel", 3),
        ({"task": "Kneel", "points": 4}, "Kneel", 4),
        ({"task": {"task": "Kneel", "points": 3}, "points": 40}, "Kneel", 3),
    ],
)
def test_task_log_payload_object_or_string(payload: dict[str, Any], text: str, points: int) -> None:
    log = ActionLog.model_validate(
        {"_id": "a" * 24, "type": "tasks_task_assigned", "payload": payload, "role": "keyholder"}
    )
    details = log.task_details()
    assert details is not None and details.task == text and details.points == points


def test_nulls_in_the_tasks_extension_fall_back_to_defaults() -> None:
    raw = fixture("webhook-extension_session.created.json")["data"]["session"]
    tasks = next(e for e in raw["lock"]["extensions"] if e["slug"] == "tasks")
    tasks["userData"].update(points=None, status=None, currentTask=None)
    tasks["config"].update(enablePoints=None, pointsRequired=None)
    state = ExtensionSession.model_validate(raw).lock.tasks
    assert state is not None
    assert (state.user_data.points, state.user_data.status, state.current_task) == (
        0,
        "start",
        None,
    )
    assert (state.config.enable_points, state.config.points_required) == (False, 0)


def test_equal_listed_tasks_are_one_object_and_are_forgotten_when_unused() -> None:
    import gc

    from bot.chaster.models import TaskDetails
    from bot.chaster.state import _LISTED, ListedTask

    first = ListedTask.of(TaskDetails(task="Shared by many locks", points=2, duration=600))
    second = ListedTask.of(TaskDetails(task="Shared by many locks", points=2, duration=600))
    other = ListedTask.of(TaskDetails(task="Shared by many locks", points=3, duration=600))
    assert first is second and first is not other
    key = ("Shared by many locks", 2, False, 600)
    assert _LISTED.get(key) is first
    del first, second, other
    gc.collect()
    assert _LISTED.get(key) is None
