"""/proof settings: how long a wearer's community photo reviews run, and how many votes end
one. Chaster's own defaults apply to what is never set."""

from __future__ import annotations

from bot.core.errors import Reason, Refused
from bot.core.links import open_link
from bot.core.model import Caller
from bot.core.policy import Action, require, role_of
from bot.core.proof_rules import MAX_DELAY_SECONDS, MAX_MAX_VOTES, MIN_DELAY_SECONDS, MIN_MAX_VOTES
from bot.core.shared import Part
from bot.store import SessionLink


class ProofSettings(Part):
    async def settings(
        self,
        caller: Caller,
        wearer_id: int,
        *,
        hours: float | None,
        max_votes: int | None,
    ) -> SessionLink:
        """How long the wearer's community reviews run and how many votes end one (keyholder of
        record only); what is left out keeps its value."""
        async with self._audit.action(
            caller, "proof.settings", detail=f"wearer={wearer_id}"
        ) as audit:
            link = await open_link(self._store, caller.guild_id, wearer_id)
            audit.link_id = link.id
            require(Action.PROOF_SETTINGS, role_of(caller, link))
            delay = link.proof_delay_seconds if hours is None else round(hours * 3600)
            votes = link.proof_max_votes if max_votes is None else max_votes
            if delay is not None and not MIN_DELAY_SECONDS <= delay <= MAX_DELAY_SECONDS:
                raise Refused(Reason.PROOF_SETTINGS_RANGE)
            if votes is not None and not MIN_MAX_VOTES <= votes <= MAX_MAX_VOTES:
                raise Refused(Reason.PROOF_SETTINGS_RANGE)
            return await self._store.set_proof_settings(
                link.id, delay_seconds=delay, max_votes=votes
            )
