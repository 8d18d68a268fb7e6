"""Picture hashes (engine/hashes.py), PNG text chunks (png_text.py) and what a file says of its
origin (provenance.py), on pictures the tests draw."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.support.images import textured_photo
from xintud.engine.decode import decode_bytes
from xintud.engine.hashes import (
    LAYOUT_SIZE,
    SCREEN_LONG_SIDE,
    SCREEN_SHORT_SIDE,
    content_box,
    layout_from_text,
    layout_text,
    layout_thumbnail,
    perceptual_hash,
    phash_variants,
    screen_from_text,
    screen_text,
    screen_thumbnail,
)
from xintud.engine.png_text import is_text_limit_error, without_text_chunks
from xintud.engine.signals import grey


def luma_of(image: Image.Image) -> np.ndarray:
    return grey(image)


def bits(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def test_letterboxed_copy_has_the_layout_and_phash_of_the_photo() -> None:
    photo = textured_photo(1, (800, 600))
    framed = Image.new("RGB", (1280, 600), (0, 0, 0))
    framed.paste(photo, (240, 0))
    plain, share = layout_thumbnail(luma_of(photo))
    boxed, boxed_share = layout_thumbnail(luma_of(framed))
    assert share == 1.0 and boxed_share == pytest.approx(800 / 1280, abs=0.03)
    assert bits(perceptual_hash(plain), perceptual_hash(boxed)) <= 4
    top, bottom, left, right = content_box(luma_of(framed))
    assert (top, bottom) == (0, luma_of(framed).shape[0])
    assert left > 0 and right < luma_of(framed).shape[1]


def test_phash_survives_resizing_and_recompression_but_not_another_picture() -> None:
    photo = textured_photo(2)
    small = io.BytesIO()
    photo.resize((300, 225)).save(small, "JPEG", quality=55)
    copy = Image.open(io.BytesIO(small.getvalue())).convert("RGB")
    one = perceptual_hash(layout_thumbnail(luma_of(photo))[0])
    two = perceptual_hash(layout_thumbnail(luma_of(copy))[0])
    other = perceptual_hash(layout_thumbnail(luma_of(textured_photo(3)))[0])
    assert bits(one, two) <= 6
    assert bits(one, other) >= 16


def test_a_turned_copy_matches_through_the_variants() -> None:
    photo = textured_photo(4, (640, 640))
    turned = photo.transpose(Image.Transpose.ROTATE_90)
    variants = phash_variants(layout_thumbnail(luma_of(turned))[0])
    original = perceptual_hash(layout_thumbnail(luma_of(photo))[0])
    assert variants[0] == perceptual_hash(layout_thumbnail(luma_of(turned))[0])
    assert min(bits(original, v) for v in variants) <= 4
    assert bits(original, variants[0]) >= 16


def test_layout_text_round_trips_and_refuses_other_text() -> None:
    layout, _ = layout_thumbnail(luma_of(textured_photo(5)))
    assert layout.shape == (LAYOUT_SIZE, LAYOUT_SIZE) and layout.dtype == np.uint8
    assert np.array_equal(layout_from_text(layout_text(layout)), layout)
    with pytest.raises(ValueError):
        layout_from_text(layout_text(layout[:10]))


@pytest.mark.parametrize(("size", "expected"), [
    ((1080, 2340), (278, 128)),  # a phone screen: 128 on the shorter side, the aspect kept
    ((3160, 1812), (128, 223)),  # a desktop one
    ((540, 10000), (SCREEN_LONG_SIDE, 28)),  # a scrolling capture: the longer side capped
])
def test_the_screen_thumbnail_keeps_the_aspect(size: tuple[int, int],
                                               expected: tuple[int, int]) -> None:
    thumbnail = screen_thumbnail(luma_of(textured_photo(7, size)))
    assert thumbnail.shape == expected and thumbnail.dtype == np.uint8
    assert SCREEN_SHORT_SIDE in thumbnail.shape or SCREEN_LONG_SIDE in thumbnail.shape


def test_the_screen_thumbnail_is_taken_inside_the_flat_borders() -> None:
    screen = textured_photo(8, (540, 1170))
    framed = Image.new("RGB", (900, 1170), (0, 0, 0))
    framed.paste(screen, (180, 0))
    plain, boxed = (screen_thumbnail(luma_of(image)) for image in (screen, framed))
    assert abs(plain.shape[0] - boxed.shape[0]) <= 2 and plain.shape[1] == boxed.shape[1]


def test_screen_text_round_trips_and_refuses_other_text() -> None:
    thumbnail = screen_thumbnail(luma_of(textured_photo(9, (1080, 2340))))
    assert np.array_equal(screen_from_text(screen_text(thumbnail)), thumbnail)
    with pytest.raises(ValueError):
        screen_from_text(layout_text(thumbnail[:10, :10]))  # raw bytes, not a PNG
    with pytest.raises(ValueError):
        screen_from_text(screen_text(np.zeros((SCREEN_LONG_SIDE + 1, 8), np.uint8)))


def png_with_text(text_bytes: int) -> bytes:
    """A real PNG with a zTXt chunk that inflates to `text_bytes` (as editors' histories do)."""
    out = io.BytesIO()
    textured_photo(6, (120, 90)).save(out, "PNG")
    data = out.getvalue()
    payload = b"history\x00\x00" + zlib.compress(b"x" * text_bytes)
    body = b"zTXt" + payload
    chunk = struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))
    return data[:33] + chunk + data[33:]  # after the IHDR chunk


def test_a_png_whose_text_pillow_refuses_decodes_without_it() -> None:
    data = png_with_text(3 << 20)
    with pytest.raises(ValueError) as refused:
        Image.open(io.BytesIO(data)).load()
    assert is_text_limit_error(refused.value)
    stripped = without_text_chunks(data)
    assert b"zTXt" not in stripped and len(stripped) < len(data)
    decoded = decode_bytes(data, "history.png")
    assert decoded.image.size == (120, 90)


def test_a_truncated_png_is_still_an_error() -> None:
    data = png_with_text(10)
    with pytest.raises(ValueError):
        without_text_chunks(data[:60])
    with pytest.raises(ValueError):
        without_text_chunks(b"GIF89a")


@pytest.mark.parametrize("quality", [50, 70, 85, 95])
def test_jpeg_quality_is_read_back_from_the_tables(quality: int) -> None:
    out = io.BytesIO()
    textured_photo(7, (160, 120)).save(out, "JPEG", quality=quality)
    assert decode_bytes(out.getvalue(), "q.jpg").meta.jpeg_quality == quality


def test_an_embedded_xmp_rating_is_read() -> None:
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999'
              b'/02/22-rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
              b' xmp:Rating="4"/></rdf:RDF></x:xmpmeta>')
    out = io.BytesIO()
    textured_photo(8, (160, 120)).save(out, "JPEG", quality=90, xmp=packet)
    meta = decode_bytes(out.getvalue(), "rated.jpg").meta
    assert meta.rating == 4
    plain = io.BytesIO()
    textured_photo(8, (160, 120)).save(plain, "PNG")
    assert decode_bytes(plain.getvalue(), "plain.png").meta.rating is None
    assert decode_bytes(plain.getvalue(), "plain.png").meta.jpeg_quality is None
