"""A failed Chaster call as a refusal for the person who asked: Chaster's own refusal (4xx)
with its words, or, when it gave no usable answer, what went wrong and that trying again
later is safe."""

from __future__ import annotations

import logging
from http import HTTPStatus

from bot.chaster import ChasterError, ChasterUnavailable, Unavailability
from bot.core.errors import ChasterRefused, Consequence, Phrase, Reason, Refused, Trouble

_UNAVAILABLE = {
    Unavailability.TIMEOUT: Trouble.TIMEOUT,
    Unavailability.UNREACHABLE: Trouble.UNREACHABLE,
    Unavailability.UNREADABLE: Trouble.UNREADABLE,
    Unavailability.NOT_UNDERSTOOD: Trouble.NOT_UNDERSTOOD,
    Unavailability.THROTTLED: Trouble.THROTTLED,
    Unavailability.SERVER_ERROR: Trouble.SERVER_ERROR,
}


def trouble(error: ChasterError) -> Phrase:
    """Why Chaster gave no usable answer, as the start of a sentence."""
    if error.status == HTTPStatus.UNAUTHORIZED:
        # Nobody in Discord can fix this: it is the bot's own credentials.
        return Phrase(Trouble.TOKEN_REFUSED, {"status": error.status})
    if not isinstance(error, ChasterUnavailable):
        return Phrase(Trouble.SAID, {"message": error.text})
    if error.reason is Unavailability.SERVER_ERROR:
        return Phrase(Trouble.SERVER_ERROR, {"status": error.status, "message": error.text})
    return Phrase(_UNAVAILABLE[error.reason], {})


def chaster_refused(error: ChasterError) -> ChasterRefused:
    """Chaster's refusal of a call, in its own words (or, for the bot's token, what to fix)."""
    if error.status == HTTPStatus.UNAUTHORIZED:
        return ChasterRefused(
            Reason.CHASTER_TOKEN_REFUSED,
            chaster_message=error.text,
            chaster_status=error.status,
            status=error.status,
        )
    return ChasterRefused(
        Reason.CHASTER_SAID,
        chaster_message=error.text,
        chaster_status=error.status,
        message=error.text,
    )


def chaster_failed(
    error: ChasterError, consequence: Consequence = Consequence.NOTHING_CHANGED
) -> ChasterRefused:
    """Any failed call: a lack of answer says what was left undone and to try again."""
    if isinstance(error, ChasterUnavailable):
        return ChasterRefused(
            Reason.CHASTER_UNAVAILABLE,
            chaster_message=error.text,
            chaster_status=error.status,
            trouble=trouble(error),
            consequence=Phrase(consequence, {}),
        )
    return chaster_refused(error)


def log_retry(logger: logging.Logger, error: Exception, message: str, *args: object) -> None:
    """Log work that failed and will be tried again: a warning with its reason when Chaster
    failed or refused it (expected, and handled), the traceback when anything else did."""
    if isinstance(error, Refused | ChasterError):
        logger.warning(message + " (%s); trying again", *args, error)
    else:
        logger.error(message + "; trying again", *args, exc_info=error)
