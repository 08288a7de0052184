"""Checking a photo sent as proof: one image, JPEG, PNG or GIF by its content, at most 15 MiB.

The photo is held in memory only, for as long as it takes to send it to Chaster: it is never
written to disk or the database, and never logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.core.errors import Reason, Refused

# Chaster's limit for a private file.
MAX_PHOTO_BYTES = 15 * 1024 * 1024


@dataclass(frozen=True)
class ImageKind:
    """An image format Chaster takes: its content type and the file name it is sent under
    (Chaster wants the name's extension to match the content)."""

    content_type: str
    filename: str


JPEG = ImageKind("image/jpeg", "proof.jpg")
PNG = ImageKind("image/png", "proof.png")
GIF = ImageKind("image/gif", "proof.gif")


@dataclass(frozen=True)
class Photo:
    """A file someone attached: its size as Discord declares it, and how to fetch its bytes
    (into memory). The name Discord gives is not trusted, nor sent on."""

    size: int
    fetch: Callable[[], Awaitable[bytes]]


def sniff(content: bytes) -> ImageKind | None:
    """The image format by the file's first bytes, whatever its name says."""
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    return None


def one_photo(photos: Sequence[Photo]) -> Photo:
    """The single photo attached, before anything is fetched: none, several, or one too large
    (as Discord declares it) are refused."""
    if not photos:
        raise Refused(Reason.PHOTO_MISSING)
    if len(photos) > 1:
        raise Refused(Reason.PHOTO_SEVERAL, count=len(photos))
    photo = photos[0]
    if photo.size > MAX_PHOTO_BYTES:
        raise Refused(Reason.PHOTO_TOO_LARGE, limit=MAX_PHOTO_BYTES // (1024 * 1024))
    return photo


def checked_image(content: bytes) -> ImageKind:
    """The fetched bytes' format; refused when they are too large or not an image Chaster
    takes."""
    if len(content) > MAX_PHOTO_BYTES:
        raise Refused(Reason.PHOTO_TOO_LARGE, limit=MAX_PHOTO_BYTES // (1024 * 1024))
    kind = sniff(content)
    if kind is None:
        raise Refused(Reason.PHOTO_NOT_AN_IMAGE)
    return kind
