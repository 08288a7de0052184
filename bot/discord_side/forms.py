"""The "Assign task" form: its fields, reading what was submitted, and showing it back.

The form's custom id carries the wearer, and its submission is read from the interaction's
own data, so a form opened before a restart still submits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import discord

from bot.core.errors import Reason, Refused, Typed
from bot.discord_side.voice import Voice, quotable

ASSIGN_FORM = re.compile(r"assign-form:(?P<wearer>[0-9]{1,19})")
DESCRIPTION = "description"
POINTS = "points"
DURATION = "duration"
VERIFICATION = "verification"
PROOF = "proof"
PROOF_VALUES = ("none", "keyholder", "community")
# Discord's limits: a form title of 45 characters, field labels of 45.
DESCRIPTION_LIMIT = 500
POINTS_LIMIT = 9
DURATION_LIMIT = 20


@dataclass(frozen=True)
class AssignTyped:
    """What was submitted, exactly as typed."""

    description: str
    points: str
    duration: str
    verification: bool
    # "none", "keyholder" or "community": who judges the photo in Chaster.
    proof: str = "none"

    def points_value(self) -> int | None:
        """The points as a number, None when left empty (a library entry or a task of the
        lock's list gives its own); Refused when they are not a whole number of 0 or more."""
        text = self.points.strip()
        if not text:
            return None
        if not text.isascii() or not text.isdigit():
            raise Refused(Reason.POINTS_NOT_A_NUMBER, typed=Typed(self.points))
        return int(text)


def assign_form(wearer_id: int, voice: Voice) -> discord.ui.Modal:
    """The form that assigns `wearer_id` a task, as `/task assign` does."""
    form = discord.ui.Modal(
        title=voice.text("form.assign.title"), custom_id=f"assign-form:{wearer_id}"
    )
    fields: list[tuple[str, str | None, discord.ui.Item[Any]]] = [
        (
            "form.assign.description",
            None,
            discord.ui.TextInput(
                custom_id=DESCRIPTION,
                style=discord.TextStyle.paragraph,
                min_length=1,
                max_length=DESCRIPTION_LIMIT,
            ),
        ),
        (
            "form.assign.points",
            "form.assign.points-hint",
            discord.ui.TextInput(custom_id=POINTS, required=False, max_length=POINTS_LIMIT),
        ),
        (
            "form.assign.duration",
            "form.assign.duration-hint",
            discord.ui.TextInput(custom_id=DURATION, required=False, max_length=DURATION_LIMIT),
        ),
        (
            "form.assign.verification",
            "form.assign.verification-hint",
            discord.ui.Checkbox(custom_id=VERIFICATION),
        ),
        (
            "form.assign.proof",
            "form.assign.proof-hint",
            discord.ui.Select(
                custom_id=PROOF,
                options=[
                    discord.SelectOption(
                        label=voice.text(f"choice.proof.{value}"),
                        value=value,
                        default=value == "none",
                    )
                    for value in PROOF_VALUES
                ],
            ),
        ),
    ]
    for label, hint, component in fields:
        form.add_item(
            discord.ui.Label(
                text=voice.text(label),
                description=voice.text(hint) if hint else None,
                component=component,
            )
        )
    # Only rendered: the submission is read by custom id (`cogs/assign_form.py`). A form that
    # is not stopped would be kept by discord.py until it times out, for nothing.
    form.stop()
    return form


def read_assign_form(data: dict[str, Any]) -> AssignTyped:
    """The submitted values, from the interaction's data (a missing field reads as empty)."""
    values: dict[str, Any] = {}
    for field in data.get("components") or []:
        inner = [field["component"]] if "component" in field else field.get("components") or []
        for component in inner:
            if isinstance(component.get("custom_id"), str):
                chosen = component.get("values")
                values[component["custom_id"]] = (
                    chosen[0] if isinstance(chosen, list) and chosen else component.get("value")
                )
    return AssignTyped(
        description=str(values.get(DESCRIPTION) or ""),
        points=str(values.get(POINTS) or ""),
        duration=str(values.get(DURATION) or ""),
        verification=values.get(VERIFICATION) is True,
        proof=str(values.get(PROOF)) if values.get(PROOF) in PROOF_VALUES else "none",
    )


def as_typed(typed: AssignTyped, voice: Voice) -> str:
    """The form's values shown back after a refusal, so nothing typed is lost: the text in a
    code block to copy, the rest on one line."""
    # Three backticks would end the block early; a zero-width space keeps them apart.
    description = typed.description.replace("```", "`\u200b``")
    verification = voice.text("form.yes" if typed.verification else "form.no")
    proof = voice.text(f"choice.proof.{typed.proof}")
    return "\n".join(
        [
            voice.text("form.kept"),
            f"```\n{description}\n```",
            " · ".join(
                [
                    f"{voice.text('form.assign.points')}: {_inline(typed.points)}",
                    f"{voice.text('form.assign.duration')}: {_inline(typed.duration)}",
                    f"{voice.text('form.assign.verification')}: {verification}",
                ]
                # Shown when chosen: the line stays as it was for a form without proof.
                + ([f"{voice.text('form.assign.proof')}: {proof}"] if typed.proof != "none" else [])
            ),
        ]
    )


def _inline(text: str) -> str:
    return f"`{quotable(text, DURATION_LIMIT)}`" if text.strip() else "—"
