"""/link and /unlink: connect a wearer's Chaster session to this server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import Person, Reason, Refused
from bot.core.link_codes import CodeResult
from bot.core.links import LINK_REQUEST_TTL
from bot.discord_side.feed_view import COMPLETE_EMOJI
from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text
from bot.discord_side.link_requests import add_accept_reaction, post_link_request
from bot.discord_side.voice import Voice

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot


class Links(commands.Cog):
    """Linking Chaster sessions to wearers."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot

    @app_commands.command(name="link", description=command_text("command.link"))
    @app_commands.describe(
        wearer=command_text("option.link.wearer"),
        session_id=command_text("option.link.session_id"),
        code=command_text("option.link.code"),
    )
    @app_commands.guild_only()
    async def link(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member | None = None,
        session_id: str | None = None,
        code: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        # Chaster is called below; defer first so a slow answer cannot miss Discord's deadline.
        await interaction.response.defer(ephemeral=True, thinking=True)
        if code is not None:
            if wearer is not None or session_id is not None:
                raise Refused(Reason.LINK_CODE_WITH_OTHERS)
            await self._link_by_code(interaction, code)
            return
        if wearer is None:
            raise Refused(Reason.LINK_NEEDS_WEARER_OR_CODE)
        if wearer.bot:
            raise Refused(Reason.BOTS_DONT_WEAR_LOCKS)
        caller = caller_of(interaction)
        outcome = await self.bot.core.links.link(
            caller, wearer.id, session_id, interaction.channel_id or 0
        )
        voice = self.bot.voice_for(interaction)
        if outcome.link is not None:
            title = _lock_title(outcome.lock_title, voice)
            await reply(
                interaction,
                voice.text(
                    "reply.linked",
                    wearer=Person(wearer.id),
                    title=title,
                    keyholder=Person(outcome.link.keyholder_id),
                ),
                ephemeral=True,
            )
            return
        request = outcome.request
        assert request is not None
        # The request is public: in the server's language.
        public = await self.bot.server_voice(caller.guild_id)
        controls = (await self.bot.core.settings.of(caller.guild_id)).controls
        channel = self.bot.get_partial_messageable(request.channel_id, guild_id=caller.guild_id)
        try:
            message = await post_link_request(
                channel, request, _lock_title(outcome.lock_title, public), controls, public
            )
            await self.bot.core.links.attach_request_message(request.id, message.id)
            await add_accept_reaction(message, controls)
        except discord.HTTPException as error:
            # The wearer cannot answer a request they cannot see: withdraw it.
            await self.bot.core.links.cancel_request(request.id)
            raise Refused(
                Reason.LINK_REQUEST_NOT_POSTABLE, error=error.text or str(error.status)
            ) from None
        minutes = int(LINK_REQUEST_TTL.total_seconds() // 60)
        if controls.has_reactions:
            asked = voice.text(
                "reply.link-asked", wearer=Person(wearer.id), accept=COMPLETE_EMOJI, count=minutes
            )
        else:
            asked = voice.text("reply.link-asked.buttons", wearer=Person(wearer.id), count=minutes)
        await reply(interaction, asked, ephemeral=True)

    async def _link_by_code(self, interaction: discord.Interaction[TasksBot], code: str) -> None:
        """The code from the extension's main page in Chaster proves who the caller is."""
        caller = caller_of(interaction)
        outcome = await self.bot.core.link_codes.redeem(caller, code, interaction.channel_id or 0)
        voice = self.bot.voice_for(interaction)
        title = _lock_title(outcome.lock_title, voice)
        link = outcome.link
        if outcome.result is CodeResult.LINKED and link is not None:
            text = voice.text(
                "reply.linked",
                wearer=Person(link.wearer_id),
                title=title,
                keyholder=Person(link.keyholder_id),
            )
        elif outcome.result is CodeResult.KEYHOLDER_SET and link is not None:
            text = voice.text(
                "reply.code-keyholder-set", wearer=Person(link.wearer_id), title=title
            )
        elif outcome.result is CodeResult.WAITING_FOR_KEYHOLDER:
            text = voice.text("reply.code-waiting-for-keyholder", title=title)
        else:
            text = voice.text("reply.code-waiting-for-wearer", title=title)
        await reply(interaction, text, ephemeral=True)

    @app_commands.command(name="unlink", description=command_text("command.unlink"))
    @app_commands.describe(wearer=command_text("option.unlink.wearer"))
    @app_commands.guild_only()
    async def unlink(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.core.links.unlink(caller_of(interaction), wearer.id)
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction, voice.text("reply.unlinked", wearer=Person(wearer.id)), ephemeral=True
        )


def _lock_title(title: str | None, voice: Voice) -> str:
    """The lock's title is the wearer's own text from Chaster: shown, never formatted."""
    shown = discord.utils.escape_markdown(title or "")
    if not shown:
        return voice.text("lock-title.unnamed")
    return voice.text("lock-title.named", title=shown)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Links(bot))
