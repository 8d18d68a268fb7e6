"""What phones upload, through the running daemon: an iPhone's HEIC is classified and filed
with its Live Photo video and its edits in one journaled set; a video uploaded a little later
follows its photo; undo takes the whole set back; a HEIC that is not whole is a clear
per-file error, the rest of its set untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.daemon_tree import DaemonTree, sha256, wait_for
from tests.support.images import phone_picture_bytes

pytestmark = pytest.mark.slow

MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00\x00\x00\x08free" * 64


def filed(tree: DaemonTree, name: str) -> Path | None:
    return next((p for p in tree.library_files() if p.name == name), None)


def test_a_live_photo_is_filed_as_one_set_and_undone_as_one(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    daemon = tree.start()
    try:
        photo = tree.camera / "IMG_1234.HEIC"
        video, edits = tree.camera / "IMG_1234.MOV", tree.camera / "IMG_1234.AAE"
        video.write_bytes(MOV)
        edits.write_text("<plist><dict/></plist>")
        photo.write_bytes(phone_picture_bytes("HEIF", (1200, 900), orientation=6, seed=7))
        hashes = {p.name: sha256(p) for p in (photo, video, edits)}
        heic = wait_for(lambda: filed(tree, "IMG_1234.HEIC"), what="the HEIC filed")
        assert isinstance(heic, Path)
        assert {p.name for p in heic.parent.iterdir()} == set(hashes)
        assert {p.name: sha256(p) for p in heic.parent.iterdir()} == hashes
        assert list(tree.camera.iterdir()) == []
        result = json.loads(tree.ctl("--json", "explain", str(heic)).stdout)
        assert result["evidence"]["metadata"]["camera_exif"] is True

        late = tree.camera / "IMG_1234.HEIC.json"  # Takeout's, a minute later
        late.write_text('{"title": "IMG_1234.HEIC"}')
        wait_for(lambda: (heic.parent / late.name).is_file() and not late.exists(),
                 what="the late companion following")
        assert "IMG_1234.HEIC.json followed IMG_1234.HEIC" in tree.logs()

        undo = tree.ctl("undo")
        assert undo.returncode == 0, undo.stderr
        back = {p.name for p in tree.camera.iterdir()}
        assert back == {*hashes, late.name}, back
        assert all(sha256(tree.camera / n) == h for n, h in hashes.items())
        assert not heic.parent.exists() or list(heic.parent.iterdir()) == []
    finally:
        assert tree.stop(daemon) == 0


def test_a_truncated_heic_fails_alone_and_its_video_stays_with_it(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    daemon = tree.start()
    try:
        whole = phone_picture_bytes("HEIF", (640, 480), seed=8)
        (tree.camera / "IMG_2000.MOV").write_bytes(MOV)
        (tree.camera / "IMG_2000.HEIC").write_bytes(whole[: len(whole) // 3])
        (tree.camera / "IMG_2001.HEIC").write_bytes(phone_picture_bytes("HEIF", (640, 480),
                                                                        seed=9))
        wait_for(lambda: filed(tree, "IMG_2001.HEIC"), what="the whole HEIC filed")
        wait_for(lambda: "failed IMG_2000.HEIC" in tree.logs(), what="the broken one's error")
        assert "IMG_2000.HEIC: damaged" in tree.logs()
        assert sorted(p.name for p in tree.camera.iterdir()) == ["IMG_2000.HEIC",
                                                                 "IMG_2000.MOV"]
    finally:
        assert tree.stop(daemon) == 0


def test_a_video_without_a_photo_is_filed_by_the_date_it_was_made(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from tests.support.videos import movie_bytes

    tree = DaemonTree(tmp_path)
    tree.write_config(library="video_twin_wait_seconds = 1.0")
    daemon = tree.start()
    try:
        made = datetime(2025, 3, 9, 12, 0, tzinfo=timezone.utc)
        video = tree.camera / "VID_20250309_120000.mp4"
        video.write_bytes(movie_bytes(made, b"isom"))
        digest = sha256(video)
        fake = tree.camera / "IMG_3000.MOV"  # beside its photo, but not a video
        fake.write_text("not a movie")
        (tree.camera / "IMG_3000.HEIC").write_bytes(phone_picture_bytes("HEIF", (640, 480),
                                                                        seed=10))
        local = made.astimezone()
        where = tree.library / "Videos" / f"{local:%Y}" / f"{local:%m}" / video.name
        wait_for(where.is_file, what="the video filed by its date")
        assert sha256(where) == digest and not video.exists()
        wait_for(lambda: "filed video VID_20250309_120000.mp4 -> Videos/2025/03" in tree.logs(),
                 what="the video's log line")
        wait_for(lambda: filed(tree, "IMG_3000.HEIC"), what="the HEIC filed")
        assert fake.is_file(), "a .MOV that is not a video stays where it is"
        assert "IMG_3000.MOV is named like IMG_3000.HEIC's video but is not one" in tree.logs()
        undo = tree.ctl("undo", "2")  # the video and the photo, both journaled
        assert undo.returncode == 0, undo.stderr
        assert video.is_file() and sha256(video) == digest and not where.exists()
        assert (tree.camera / "IMG_3000.HEIC").is_file()
    finally:
        assert tree.stop(daemon) == 0


def test_a_raw_and_its_jpeg_are_one_photo_and_a_lone_raw_is_read_from_its_preview(
        tmp_path: Path) -> None:
    import io

    from tests.support.images import scene
    from tests.support.raw import tiff_raw

    def jpeg(seed: int) -> bytes:
        out = io.BytesIO()
        scene((1200, 800), seed).save(out, "JPEG", quality=88)
        return out.getvalue()

    tree = DaemonTree(tmp_path)
    tree.write_config()
    daemon = tree.start()
    try:
        (tree.camera / "DSC_0001.NEF").write_bytes(tiff_raw(jpeg(1)))
        (tree.camera / "DSC_0001.JPG").write_bytes(jpeg(1))
        (tree.camera / "DSC_0002.NEF").write_bytes(tiff_raw(jpeg(2), orientation=8))
        (tree.camera / "DSC_0003.NEF").write_bytes(tiff_raw(None))
        pair = wait_for(lambda: filed(tree, "DSC_0001.JPG"), what="the JPEG filed")
        assert isinstance(pair, Path) and (pair.parent / "DSC_0001.NEF").is_file()
        lone = wait_for(lambda: filed(tree, "DSC_0002.NEF"), what="the lone RAW filed")
        assert isinstance(lone, Path)
        wait_for(lambda: "failed DSC_0003.NEF" in tree.logs(), what="the RAW without preview")
        assert "DSC_0003.NEF: a RAW file without an embedded preview JPEG" in tree.logs()
        assert "filed DSC_0001.NEF" not in tree.logs(), "classified once, from the JPEG"
        assert sorted(p.name for p in tree.camera.iterdir()) == ["DSC_0003.NEF"]
        result = json.loads(tree.ctl("--json", "explain", str(lone)).stdout)
        assert result["evidence"]["metadata"]["camera_exif"] is True
    finally:
        assert tree.stop(daemon) == 0
