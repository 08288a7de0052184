"""Photo proof on Discord's side: the `proof:` choices, the upload form a proof task's
Complete button opens, the attachments handed to the core, and what the feed and replies say.

An attachment's bytes are fetched from Discord into memory by the core, only to be sent on to
Chaster: nothing here keeps, posts or logs them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.core.errors import Refused
from bot.core.photos import Photo
from bot.discord_side.interactions import caller_of
from bot.discord_side.language import command_text
from bot.discord_side.voice import Voice
from bot.store import Proof, ProofReview, ProofState, Task

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

PROOF_FORM = re.compile(r"proof-form:(?P<task>[0-9]{1,19})")
PHOTO_FIELD = "photo"
CAMERA = "\N{CAMERA WITH FLASH}"  # 📸

PROOF_CHOICES = [
    app_commands.Choice(name=command_text(f"choice.proof.{value}"), value=value)
    for value in ("none", Proof.KEYHOLDER.value, Proof.COMMUNITY.value)
]


def proof_of(choice: app_commands.Choice[str] | None) -> Proof | None:
    """The chosen audience; None for "none" or no choice."""
    if choice is None or choice.value == "none":
        return None
    return Proof(choice.value)


def photos_of(attachments: Sequence[discord.Attachment]) -> list[Photo]:
    """The attachments as the core checks them: declared size, and a way to fetch the bytes."""
    return [Photo(size=attachment.size, fetch=_fetcher(attachment)) for attachment in attachments]


def _fetcher(attachment: discord.Attachment) -> Any:
    async def fetch() -> bytes:
        try:
            return await attachment.read()
        except discord.HTTPException as error:
            # Said as the core's "could not be read"; only Discord's status is kept.
            raise OSError(error.status) from None

    return fetch


def proof_form(task_id: int, voice: Voice) -> discord.ui.Modal:
    """The form with one file upload that a proof task's Complete button opens."""
    form = discord.ui.Modal(title=voice.text("form.proof.title"), custom_id=f"proof-form:{task_id}")
    form.add_item(
        discord.ui.Label(
            text=voice.text("form.proof.photo"),
            description=voice.text("form.proof.photo-hint"),
            component=discord.ui.FileUpload(
                custom_id=PHOTO_FIELD, min_values=1, max_values=1, required=True
            ),
        )
    )
    # Only rendered: the submission is read from the interaction (`cogs/proof.py`).
    form.stop()
    return form


def submitted_photos(interaction: discord.Interaction[Any]) -> list[Photo]:
    """The files of a submitted proof form, from the interaction's resolved attachments."""
    data: dict[str, Any] = dict(interaction.data or {})
    ids: list[str] = []
    for field in data.get("components") or []:
        inner = [field["component"]] if "component" in field else field.get("components") or []
        for component in inner:
            if component.get("custom_id") == PHOTO_FIELD:
                ids.extend(str(value) for value in component.get("values") or [])
    resolved = (data.get("resolved") or {}).get("attachments") or {}
    state = interaction._state
    attachments = [discord.Attachment(data=resolved[i], state=state) for i in ids if i in resolved]
    return photos_of(attachments)


def sent_reply(proof: ProofReview, voice: Voice) -> str:
    """The wearer's private answer once the photo is under review (or already judged)."""
    if proof.state is ProofState.VERIFIED:
        return voice.text("reply.proof-verified")
    if proof.state is ProofState.REJECTED:
        return voice.text("reply.proof-rejected")
    if proof.audience is Proof.KEYHOLDER:
        return voice.text("reply.proof-sent.keyholder")
    if proof.ends_at is not None:
        return voice.text("reply.proof-sent.community", at=proof.ends_at)
    return voice.text("reply.proof-sent.community-open")


def proof_kind(task: Task, voice: Voice) -> str | None:
    """The feed's "kind" part for a task that needs a photo: who will judge it."""
    if task.proof is None:
        return None
    return f"{CAMERA} {voice.text(f'feed.kind.proof.{task.proof.value}')}"


def proof_field(proof: ProofReview | None, voice: Voice) -> str | None:
    """The feed's "Photo" field: under review, or the verdict with its votes and reasons."""
    if proof is None or proof.state in (ProofState.FAILED, ProofState.UPLOADING):
        return None
    if proof.state in (ProofState.CREATING, ProofState.UNKNOWN):
        return voice.text("feed.proof.sending")
    if proof.state is ProofState.OPEN:
        if proof.audience is Proof.COMMUNITY and proof.ends_at is not None:
            return voice.text("feed.proof.community", at=proof.ends_at)
        return voice.text(f"feed.proof.{proof.audience.value}")
    votes = voice.text(
        "feed.proof.votes",
        approved=proof.votes_verified or 0,
        rejected=proof.votes_rejected or 0,
    )
    if proof.state is ProofState.VERIFIED:
        return f"{voice.text('feed.proof.verified')} ({votes})"
    lines = [f"{voice.text('feed.proof.rejected')} ({votes})"]
    lines.extend(f"• {voice.task_text(reason)}" for reason in proof.reasons[:5])
    return "\n".join(lines)


async def open_proof_form(interaction: discord.Interaction[TasksBot], task: Task) -> None:
    """A proof task's Complete: the upload form, or why it cannot be sent now (privately)."""
    bot = interaction.client
    voice = bot.voice_for(interaction)
    try:
        await bot.core.proofs.may_submit(caller_of(interaction), task.id)
    except Refused as refusal:
        await interaction.response.send_message(
            voice.refusal(refusal), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )
        return
    await interaction.response.send_modal(proof_form(task.id, voice))
