"""intake.video: the date a video was made, from its movie header; what is not a video."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support.videos import box, movie_bytes
from xintud.intake.video import is_video_file, is_video_name, video_created_at

MADE = datetime(2026, 7, 14, 18, 30, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize("brand", [b"qt  ", b"isom", b"mp42"])
def test_the_movie_header_says_when_it_was_made(tmp_path: Path, version: int,
                                                brand: bytes) -> None:
    path = tmp_path / "VID_0001.mp4"
    path.write_bytes(movie_bytes(MADE, brand, version))
    assert is_video_name(path) and is_video_file(path)
    assert video_created_at(path) == MADE


def test_a_header_after_a_large_media_box_is_found(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0001.MOV"
    data = movie_bytes(MADE)
    ftyp_end = int.from_bytes(data[:4], "big")
    path.write_bytes(data[:ftyp_end] + box(b"mdat", b"\x00" * 3_000_000) + data[ftyp_end:])
    assert video_created_at(path) == MADE


@pytest.mark.parametrize(("content", "video"), [
    (movie_bytes(None), True),  # a clock never set: no date, but a video
    (b"this is not a video at all", False),
    (b"", False),
    (b"\x00\x00\x00\x08moov", True),  # an old QuickTime file starting with moov, no mvhd
])
def test_no_plausible_date_is_none(tmp_path: Path, content: bytes, video: bool) -> None:
    path = tmp_path / "IMG_0002.MOV"
    path.write_bytes(content)
    assert video_created_at(path) is None
    assert is_video_file(path) is video
