"""Decode stage: fast JPEG draft decoding, orientation, flattening, and clean errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from tests.support.images import camera_exif, png_bomb_bytes, scene, write_jpeg
from xintud.engine.decode import (
    DRAFT_FLOOR,
    WORKING_SIZE,
    DecodeError,
    decode_bytes,
    decode_image,
)


def test_big_jpeg_is_decoded_near_working_size(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "big.jpg", size=(4032, 3024))
    decoded = decode_image(path)
    assert decoded.image.size == (504, 378), "a 12 MP JPEG decodes at 1/8 scale, no resize"
    assert DRAFT_FLOOR <= min(decoded.image.size) <= WORKING_SIZE
    assert decoded.image.mode == "RGB"
    assert (decoded.meta.width, decoded.meta.height) == (4032, 3024)
    assert decoded.meta.format == "JPEG"


def test_big_png_is_resized_to_working_size(tmp_path: Path) -> None:
    path = tmp_path / "Screenshot.png"
    scene((1080, 2340)).save(path)
    decoded = decode_image(path)
    assert decoded.image.size == (WORKING_SIZE, 971)
    assert (decoded.meta.width, decoded.meta.height) == (1080, 2340)


def test_big_sideways_jpeg_is_reduced_then_turned_upright(tmp_path: Path) -> None:
    # Stored landscape with orientation 6 (a portrait photo): displayed 3024 wide, 4032 high.
    stored = Image.new("RGB", (4032, 3024), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 2016, 1512))  # top-left quarter when stored
    path = tmp_path / "portrait.jpg"
    stored.save(path, "JPEG", quality=90, exif=camera_exif(orientation=6).tobytes())
    decoded = decode_image(path)
    assert decoded.image.size == (378, 504)
    assert (decoded.meta.width, decoded.meta.height) == (3024, 4032)
    red, _, blue = decoded.image.getpixel((378 - 20, 20))  # rotated 90° clockwise: top-right
    assert red > 200 and blue < 60


def test_small_image_is_kept_as_is(tmp_path: Path) -> None:
    path = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1), (10, 20, 30)).save(path)
    decoded = decode_image(path)
    assert decoded.image.size == (1, 1)
    assert decoded.image.getpixel((0, 0)) == (10, 20, 30)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    # A picture whose top-left quarter is red: after orientation it must still be top-left.
    upright = Image.new("RGB", (200, 100), (0, 0, 255))
    upright.paste((255, 0, 0), (0, 0, 100, 50))
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}
    stored = upright.transpose(inverse[orientation]) if orientation in inverse else upright
    path = tmp_path / f"o{orientation}.jpg"
    stored.save(path, "JPEG", quality=95, exif=camera_exif(orientation=orientation).tobytes())
    decoded = decode_image(path)
    assert decoded.image.size == (200, 100)
    assert (decoded.meta.width, decoded.meta.height) == (200, 100)
    red, _, blue = decoded.image.getpixel((20, 10))
    assert red > 200 and blue < 60
    assert decoded.meta.orientation == orientation


def test_camera_exif_is_read(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "cam.jpg", exif=camera_exif())
    meta = decode_image(path).meta
    assert meta.has_camera_exif and meta.camera_make == "Google"
    assert meta.taken_at is not None and meta.taken_at.year == 2026


def test_corrupt_exif_does_not_stop_decoding(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 77  # not an orientation
    exif[0x0132] = "not a date"
    path = write_jpeg(tmp_path / "odd.jpg", exif=exif)
    decoded = decode_image(path)
    assert decoded.meta.taken_at is None
    assert (decoded.meta.width, decoded.meta.height) == (640, 480)
    assert decoded.image.width > decoded.image.height


def test_palette_transparency_is_flattened_onto_white(tmp_path: Path) -> None:
    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.info["transparency"] = 0
    image.paste(1, (0, 0, 10, 20))
    path = tmp_path / "pal.png"
    image.save(path, transparency=0)
    decoded = decode_image(path)
    assert decoded.meta.has_alpha
    assert decoded.image.getpixel((15, 5)) == (255, 255, 255)
    assert decoded.image.getpixel((5, 5)) == (255, 0, 0)


def test_rgba_is_flattened_onto_white(tmp_path: Path) -> None:
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    path = tmp_path / "clear.png"
    image.save(path)
    assert decode_image(path).image.getpixel((3, 3)) == (255, 255, 255)


def test_cmyk_and_sixteen_bit_images_decode(tmp_path: Path) -> None:
    cmyk = tmp_path / "cmyk.jpg"
    scene((120, 80)).convert("CMYK").save(cmyk, "JPEG")
    assert decode_image(cmyk).image.mode == "RGB"
    grey16 = tmp_path / "g16.png"
    Image.new("I;16", (30, 30), 40000).save(grey16)
    value = decode_image(grey16).image.getpixel((1, 1))
    assert 150 < value[0] < 160  # 40000 / 256 ≈ 156, not clipped to white


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    decoded = decode_image(path)
    assert decoded.meta.frames == 2
    assert decoded.image.getpixel((5, 5))[0] > 200


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.jpg", b"", "empty"),
        ("page.jpg", b"<html><body>not a photo</body></html>", "not an image"),
        ("notes.png", b"just some text\n", "not an image"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, name: str, content: bytes,
                                     expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=expected) as caught:
        decode_image(path)
    assert name in str(caught.value)


def test_truncated_jpeg_and_png_are_errors(tmp_path: Path) -> None:
    for suffix, fmt in ((".jpg", "JPEG"), (".png", "PNG")):
        whole = tmp_path / f"whole{suffix}"
        scene((300, 200)).save(whole, fmt)
        data = whole.read_bytes()
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(DecodeError, match="truncated|damaged"):
            decode_image(cut)


def test_directory_named_like_an_image_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "holiday.jpg"
    folder.mkdir()
    with pytest.raises(DecodeError, match="directory"):
        decode_image(folder)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="disappeared"):
        decode_image(tmp_path / "gone.jpg")


def test_decompression_bomb_is_refused_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(DecodeError, match="bomb"):
        decode_bytes(png_bomb_bytes(), "bomb.png")
    # Generous bound: the point is that no 30 GB buffer was allocated and filled.
    assert time.monotonic() - started < 5


def test_wide_panorama_jpeg_decodes_small(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "pano.jpg", size=(12000, 2000), quality=60)
    decoded = decode_image(path)
    assert min(decoded.image.size) == WORKING_SIZE
    assert decoded.image.width / decoded.image.height == pytest.approx(6, rel=0.02)


@pytest.mark.parametrize(("fmt", "suffix"), [("HEIF", ".heic"), ("AVIF", ".avif")])
def test_phone_formats_decode_upright_with_their_exif(tmp_path: Path, fmt: str,
                                                      suffix: str) -> None:
    from tests.support.images import phone_picture_bytes
    from xintud.engine.decode import sniff_format

    data = phone_picture_bytes(fmt, (800, 600), orientation=6)  # a portrait shot sideways
    path = tmp_path / f"IMG_0001{suffix}"
    path.write_bytes(data)
    decoded = decode_image(path)
    assert decoded.meta.format == fmt and sniff_format(data[:16]) == fmt
    assert (decoded.meta.width, decoded.meta.height) == (600, 800)
    assert decoded.image.size == (WORKING_SIZE, 597)
    red, _, blue = decoded.image.getpixel((WORKING_SIZE - 20, 20))  # turned: top-right
    assert red > 200 and blue < 60
    assert decoded.meta.camera_make == "Apple" and decoded.meta.has_camera_exif
    assert decoded.meta.taken_at is not None and decoded.meta.taken_at.year == 2026


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95, 0.99])
def test_a_truncated_heic_is_a_clear_error(tmp_path: Path, keep: float) -> None:
    from tests.support.images import phone_picture_bytes

    data = phone_picture_bytes("HEIF", (640, 480))
    path = tmp_path / "IMG_0002.HEIC"
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(DecodeError, match=r"IMG_0002\.HEIC: damaged"):
        decode_image(path)


def test_a_heic_cut_where_libheif_does_not_look_is_still_an_error(tmp_path: Path) -> None:
    # Whether libheif notices a cut depends on what the cut falls in (on some machines a 95%
    # copy decoded); a box that runs past the end of the file says it regardless.
    from tests.support.images import phone_picture_bytes

    data = phone_picture_bytes("HEIF", (640, 480))
    path = tmp_path / "IMG_0003.HEIC"
    path.write_bytes(data + (4096).to_bytes(4, "big") + b"free" + bytes(100))
    with pytest.raises(DecodeError, match=r"IMG_0003\.HEIC: damaged.*'free' box"):
        decode_image(path)
    path.write_bytes(data + (108).to_bytes(4, "big") + b"free" + bytes(100))
    assert decode_image(path).meta.format == "HEIF"


@pytest.mark.parametrize(("lat", "lon"), [(35.0116, 135.7681), (-33.8688, 151.2093),
                                          (40.7128, -74.006)])
def test_gps_and_time_offset_are_read(tmp_path: Path, lat: float, lon: float) -> None:
    exif = camera_exif()
    gps = exif.get_ifd(0x8825)
    for tag_ref, tag, value, refs in ((1, 2, lat, "NS"), (3, 4, lon, "EW")):
        degrees = abs(value)
        minutes = (degrees - int(degrees)) * 60
        gps[tag_ref] = refs[0] if value >= 0 else refs[1]
        gps[tag] = (float(int(degrees)), float(int(minutes)), (minutes - int(minutes)) * 60)
    exif.get_ifd(0x8769)[0x9011] = "+09:00"
    path = tmp_path / "IMG_GPS.jpg"
    scene((160, 120)).save(path, "JPEG", exif=exif.tobytes())
    meta = decode_image(path).meta
    assert meta.gps is not None
    assert meta.gps == pytest.approx((lat, lon), abs=1e-4)
    assert meta.time_offset == "+09:00"


def test_no_gps_or_a_null_island_fix_is_none(tmp_path: Path) -> None:
    exif = camera_exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (0.0, 0.0, 0.0), "E", (0.0, 0.0, 0.0)
    path = tmp_path / "IMG_NOFIX.jpg"
    scene((160, 120)).save(path, "JPEG", exif=exif.tobytes())
    assert decode_image(path).meta.gps is None
    assert decode_image(write_jpeg(tmp_path / "plain.jpg")).meta.gps is None


def test_heif_support_loads_only_when_a_heif_comes(tmp_path: Path) -> None:
    # libheif and its codecs stay resident once loaded (2.6 MiB in the idle daemon): a
    # process that decodes JPEGs only must not load them, nor Pillow's plugins for formats
    # that are not photos; and the first HEIC still decodes.
    import subprocess
    import sys

    from tests.support.images import phone_picture_bytes

    write_jpeg(tmp_path / "IMG_0001.jpg")
    (tmp_path / "IMG_0002.HEIC").write_bytes(phone_picture_bytes("HEIF", (640, 480)))
    script = (
        "import sys; from pathlib import Path; from xintud.engine.decode import decode_image\n"
        f"folder = Path({str(tmp_path)!r})\n"
        "assert decode_image(folder / 'IMG_0001.jpg').meta.format == 'JPEG'\n"
        "print('pillow_heif' in sys.modules, 'PIL.FitsImagePlugin' in sys.modules)\n"
        "print(decode_image(folder / 'IMG_0002.HEIC').meta.format, 'pillow_heif' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[:2] == ["False False", "HEIF True"]
