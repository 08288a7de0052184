"""What every typed view of a Chaster payload shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# The form of a Chaster session id, as the client checks it before building a URL.
SESSION_ID_REGEX = r"^[A-Za-z0-9_-]{1,64}$"


class ChasterModel(BaseModel):
    """Base for Chaster payloads: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )
