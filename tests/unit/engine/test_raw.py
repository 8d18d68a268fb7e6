"""engine.raw and decode: a camera RAW is classified from the preview JPEG it carries — the
largest one its own structure points to — with its camera, date and orientation; a RAW
without a preview is a clear error."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.support.raw import raf, tiff_raw
from xintud.engine.decode import DecodeError, decode_bytes
from xintud.engine.raw import embedded_preview


def jpeg(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    picture = Image.new("RGB", size, (0, 0, 255))
    picture.paste(colour, (0, 0, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


PREVIEW, THUMB = jpeg((1600, 1064), (255, 0, 0)), jpeg((160, 120), (0, 255, 0))


def test_the_largest_preview_is_found_in_a_tiff_based_raw() -> None:
    data = tiff_raw(PREVIEW, THUMB)
    assert embedded_preview(data) == PREVIEW
    assert embedded_preview(tiff_raw(None, THUMB)) == THUMB
    assert embedded_preview(tiff_raw(None)) is None
    assert embedded_preview(raf(PREVIEW)) == PREVIEW
    assert embedded_preview(b"not a raw at all") is None


@pytest.mark.parametrize("name", ["DSC_0001.NEF", "IMG_0001.dng", "_DSC0001.ARW"])
def test_a_raw_decodes_from_its_preview_with_the_camera_and_orientation(name: str) -> None:
    decoded = decode_bytes(tiff_raw(PREVIEW, THUMB, orientation=6), name)
    assert decoded.meta.format == "RAW"
    assert decoded.meta.camera_make == "NIKON CORPORATION" and decoded.meta.has_camera_exif
    assert decoded.meta.taken_at is not None and decoded.meta.taken_at.hour == 9
    assert decoded.image.height > decoded.image.width, "turned upright by the RAW's orientation"
    red, _, blue = decoded.image.getpixel((decoded.image.width - 10, 10))
    assert red > 200 and blue < 60


def test_a_raw_without_a_preview_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match=r"DSC_0002\.NEF: a RAW file without an embedded "
                                          r"preview JPEG"):
        decode_bytes(tiff_raw(None), "DSC_0002.NEF")
    with pytest.raises(DecodeError, match="without an embedded preview"):
        decode_bytes(b"\x00" * 400, "DSC_0003.CR2")
