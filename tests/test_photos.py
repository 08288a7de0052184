"""Checking a photo sent as proof (bot/core/photos.py): one image, JPEG, PNG or GIF by its
content whatever its name says, at most 15 MiB, the declared size checked before anything is
fetched."""

from __future__ import annotations

import struct
import zlib

import pytest

from bot.core.errors import Reason, Refused
from bot.core.photos import (
    GIF,
    JPEG,
    MAX_PHOTO_BYTES,
    PNG,
    ImageKind,
    Photo,
    checked_image,
    one_photo,
    sniff,
)

MIB = 1024 * 1024


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# Real minimal files: a 1x1 JPEG's JFIF start, a whole 1x1 PNG, a whole 1x1 GIF.
JPEG_BYTES = (
    b"\xff\xd8"  # SOI
    + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"  # APP0
    + b"\xff\xdb\x00\x43\x00"
    + bytes(range(1, 65))  # DQT
    + b"\xff\xd9"  # EOI
)
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n"
    + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + _png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    + _png_chunk(b"IEND", b"")
)
GIF89_BYTES = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
GIF87_BYTES = b"GIF87a" + GIF89_BYTES[6:]
TEXT_BYTES = b"This is not a photo, just words in a file called proof.jpg\n"
PDF_BYTES = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
WEBP_BYTES = (
    b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00"
    b"\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
)
HTML_BYTES = b"<!DOCTYPE html><html><body><img src=x></body></html>"


class Fetcher:
    """A photo's `fetch`, counting how often the bytes were asked for."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.calls = 0

    async def __call__(self) -> bytes:
        self.calls += 1
        return self.content


def photo(content: bytes, size: int | None = None) -> tuple[Photo, Fetcher]:
    fetch = Fetcher(content)
    return Photo(size=len(content) if size is None else size, fetch=fetch), fetch


def expect(caught: pytest.ExceptionInfo[Refused], reason: Reason, **params: object) -> None:
    assert type(caught.value) is Refused
    assert caught.value.reason is reason, caught.value
    assert caught.value.params == params


# ---------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("content", "kind", "content_type", "filename"),
    [
        (JPEG_BYTES, JPEG, "image/jpeg", "proof.jpg"),
        (PNG_BYTES, PNG, "image/png", "proof.png"),
        (GIF89_BYTES, GIF, "image/gif", "proof.gif"),
        (GIF87_BYTES, GIF, "image/gif", "proof.gif"),
    ],
    ids=["jpeg", "png", "gif89a", "gif87a"],
)
def test_an_image_is_recognised_by_its_content(
    content: bytes, kind: ImageKind, content_type: str, filename: str
) -> None:
    assert sniff(content) == kind
    checked = checked_image(content)
    assert checked == kind
    assert (checked.content_type, checked.filename) == (content_type, filename)


async def test_a_png_named_jpg_is_still_a_png_and_sent_as_proof_png() -> None:
    # Discord's name for the attachment ("holiday.jpg") is not part of a Photo: only the
    # bytes decide, and the name Chaster gets comes from them.
    attached, fetch = photo(PNG_BYTES)
    content = await one_photo([attached]).fetch()
    kind = checked_image(content)
    assert kind is PNG
    assert (kind.content_type, kind.filename) == ("image/png", "proof.png")
    assert fetch.calls == 1


def test_an_image_prefix_further_in_is_not_an_image() -> None:
    assert sniff(b"\x00" + PNG_BYTES) is None
    assert sniff(b"") is None
    assert sniff(b"\xff\xd8") is None  # a JPEG's SOI alone is not enough
    assert sniff(b"GIF88a" + GIF89_BYTES[6:]) is None


@pytest.mark.parametrize(
    "content",
    [TEXT_BYTES, PDF_BYTES, WEBP_BYTES, HTML_BYTES, b""],
    ids=["text", "pdf", "webp", "html", "empty"],
)
def test_what_is_not_jpeg_png_or_gif_is_refused(content: bytes) -> None:
    assert sniff(content) is None
    with pytest.raises(Refused) as caught:
        checked_image(content)
    expect(caught, Reason.PHOTO_NOT_AN_IMAGE)


# ---------------------------------------------------------------------------------- sizes


def test_the_limit_is_chasters_15_mib() -> None:
    assert MAX_PHOTO_BYTES == 15 * MIB


async def test_a_declared_size_over_the_limit_is_refused_before_fetching() -> None:
    attached, fetch = photo(PNG_BYTES, size=MAX_PHOTO_BYTES + 1)
    with pytest.raises(Refused) as caught:
        one_photo([attached])
    expect(caught, Reason.PHOTO_TOO_LARGE, limit=15)
    assert fetch.calls == 0


def test_a_declared_size_of_exactly_the_limit_is_taken() -> None:
    attached, fetch = photo(PNG_BYTES, size=MAX_PHOTO_BYTES)
    assert one_photo([attached]) is attached
    assert fetch.calls == 0


def test_fetched_content_over_the_limit_is_refused() -> None:
    # Discord declared it small; the bytes are not.
    content = PNG_BYTES + b"\x00" * (MAX_PHOTO_BYTES + 1 - len(PNG_BYTES))
    assert len(content) == MAX_PHOTO_BYTES + 1
    with pytest.raises(Refused) as caught:
        checked_image(content)
    expect(caught, Reason.PHOTO_TOO_LARGE, limit=15)


def test_fetched_content_of_exactly_the_limit_is_taken() -> None:
    content = JPEG_BYTES + b"\x00" * (MAX_PHOTO_BYTES - len(JPEG_BYTES))
    assert checked_image(content) is JPEG


def test_a_large_text_file_is_refused_for_its_size_first() -> None:
    with pytest.raises(Refused) as caught:
        checked_image(TEXT_BYTES * (MAX_PHOTO_BYTES // len(TEXT_BYTES) + 1))
    expect(caught, Reason.PHOTO_TOO_LARGE, limit=15)


# ---------------------------------------------------------------------------------- how many


def test_no_photo_is_refused() -> None:
    with pytest.raises(Refused) as caught:
        one_photo([])
    expect(caught, Reason.PHOTO_MISSING)


def test_two_photos_are_refused_with_their_count() -> None:
    first, first_fetch = photo(JPEG_BYTES)
    second, second_fetch = photo(PNG_BYTES)
    with pytest.raises(Refused) as caught:
        one_photo([first, second])
    expect(caught, Reason.PHOTO_SEVERAL, count=2)
    assert (first_fetch.calls, second_fetch.calls) == (0, 0)


def test_several_photos_are_refused_even_when_one_is_too_large() -> None:
    small, _ = photo(JPEG_BYTES)
    huge, _ = photo(PNG_BYTES, size=MAX_PHOTO_BYTES + 1)
    with pytest.raises(Refused) as caught:
        one_photo([small, huge, small])
    expect(caught, Reason.PHOTO_SEVERAL, count=3)


def test_one_photo_is_taken_without_fetching_it() -> None:
    attached, fetch = photo(GIF89_BYTES)
    assert one_photo((attached,)) is attached
    assert fetch.calls == 0
