"""Settle stage: temp/partial names, image names, and the size/mtime quiet period."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from xintud.intake.settle import Settler, is_ignored, is_ignored_name, is_image_name

SETTLE = 2.0


class FakeClock:
    """A monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settler(clock: FakeClock) -> Settler:
    return Settler(SETTLE, clock=clock, empty_settle_seconds=10.0)


def write(path: Path, data: bytes = b"\xff\xd8\xff" + b"x" * 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "IMG_1.jpg",
        "a.JPG",
        "b.jpeg",
        "c.JPE",
        "d.png",
        "e.gif",
        "f.webp",
        "g.bmp",
        "h.tif",
        "i.TIFF",
        "j.heic",
        "k.HEIF",
    ],
)
def test_image_names_are_recognised(name: str) -> None:
    assert is_image_name(Path(name))


@pytest.mark.parametrize(
    "name", ["notes.txt", "clip.mp4", "IMG.jpg.part", "IMG.jpg.xmp", "jpg", "IMG_jpg", "a.jp"]
)
def test_other_names_are_not_images(name: str) -> None:
    assert not is_image_name(Path(name))


@pytest.mark.parametrize(
    "name",
    [
        "IMG_1.jpg.part",
        "IMG_1.JPG.PART",
        "IMG_1.jpg.crdownload",
        "IMG_1.jpg.tmp",
        ".syncthing.IMG_1.jpg.tmp",
        ".pending-1700000000-IMG_1.jpg",
        "~$report.jpg",
        ".hidden.jpg",
        ".IMG_1.jpg.AbC123",  # rsync temp
        ".xintud-3f2a.part",
        ".xintud-3f2a.jpg.part",
        "IMG_1.jpg~",
    ],
)
def test_temp_and_hidden_names_are_ignored(name: str) -> None:
    assert is_ignored(Path("/photos") / name)
    assert is_ignored_name(name)


@pytest.mark.parametrize("name", ["IMG_1.jpg", "part.jpg", "tmp_photo.png", "a~b.jpg"])
def test_ordinary_names_are_not_ignored(name: str) -> None:
    assert not is_ignored(Path("/photos") / name)


def test_anything_inside_a_dot_directory_is_ignored_relative_to_root() -> None:
    root = Path("/home/u/.var/app/sync/Camera")  # the root itself may sit under a dot-dir
    assert not is_ignored(root / "IMG_1.jpg", root=root)
    assert not is_ignored(root / "2026" / "11" / "IMG_1.jpg", root=root)
    assert is_ignored(root / ".stfolder" / "IMG_1.jpg", root=root)
    assert is_ignored(root / "DCIM" / ".thumbnails" / "IMG_1.jpg", root=root)


def test_user_globs_match_file_and_folder_names_case_insensitively() -> None:
    root = Path("/photos")
    patterns = ["*_thumb.jpg", "Trash"]
    assert is_ignored(root / "IMG_1_THUMB.JPG", patterns, root=root)
    assert is_ignored(root / "trash" / "IMG_1.jpg", patterns, root=root)
    assert not is_ignored(root / "IMG_1.jpg", patterns, root=root)


# --- Settler -----------------------------------------------------------------------------


def test_file_is_due_once_after_quiet_period(tmp_path: Path, settler: Settler, clock: FakeClock):
    photo = write(tmp_path / "IMG_1.jpg")
    settler.observe(photo)
    assert settler.due() == []
    clock.advance(SETTLE - 0.01)
    assert settler.due() == []
    clock.advance(0.02)
    assert settler.due() == [photo]
    assert settler.due() == []
    assert len(settler) == 0


def test_growing_file_restarts_quiet_period(tmp_path: Path, settler: Settler, clock: FakeClock):
    photo = write(tmp_path / "IMG_1.jpg")
    settler.observe(photo)
    for _ in range(5):
        clock.advance(SETTLE * 0.75)
        with photo.open("ab") as f:
            f.write(b"more")
        settler.observe(photo)
        assert settler.due() == []
    clock.advance(SETTLE)
    assert settler.due() == [photo]


def test_change_without_event_is_caught_by_restat(
    tmp_path: Path, settler: Settler, clock: FakeClock
):
    photo = write(tmp_path / "IMG_1.jpg")
    settler.observe(photo)
    clock.advance(SETTLE)
    with photo.open("ab") as f:  # a write whose event was missed
        f.write(b"late")
    assert settler.due() == []
    assert photo in settler
    clock.advance(SETTLE)
    assert settler.due() == [photo]


def test_mtime_change_with_same_size_restarts(tmp_path: Path, settler: Settler, clock: FakeClock):
    photo = write(tmp_path / "IMG_1.jpg")
    settler.observe(photo)
    clock.advance(SETTLE)
    st = photo.stat()
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert settler.due() == []
    clock.advance(SETTLE)
    assert settler.due() == [photo]


def test_replaced_file_same_size_and_mtime_restarts(
    tmp_path: Path, settler: Settler, clock: FakeClock
):
    photo = write(tmp_path / "IMG_1.jpg")
    st = photo.stat()
    settler.observe(photo)
    clock.advance(SETTLE)
    staged = write(tmp_path / ".IMG_1.jpg.tmp", photo.read_bytes())
    os.utime(staged, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(staged, photo)  # new inode: rsync's rename over the old file
    assert settler.due() == []
    clock.advance(SETTLE)
    assert settler.due() == [photo]


def test_repeated_observe_without_change_does_not_delay(
    tmp_path: Path, settler: Settler, clock: FakeClock
):
    photo = write(tmp_path / "IMG_1.jpg")
    settler.observe(photo)
    clock.advance(SETTLE / 2)
    settler.observe(photo)  # e.g. the close event after the last write
    clock.advance(SETTLE / 2)
    assert settler.due() == [photo]


def test_vanished_file_is_dropped(tmp_path: Path, settler: Settler, clock: FakeClock):
    photo = write(tmp_path / "IMG_1.jpg")
    settler.observe(photo)
    photo.unlink()
    clock.advance(SETTLE)
    assert settler.due() == []
    assert len(settler) == 0
    assert settler.next_deadline() is None


def test_observing_missing_path_drops_it(tmp_path: Path, settler: Settler):
    photo = write(tmp_path / "IMG_1.jpg")
    settler.observe(photo)
    photo.unlink()
    settler.observe(photo)
    assert len(settler) == 0
    settler.observe(tmp_path / "never.jpg")
    assert len(settler) == 0


def test_symlinks_and_directories_are_not_tracked(tmp_path: Path, settler: Settler):
    target = write(tmp_path / "real.jpg")
    link = tmp_path / "link.jpg"
    link.symlink_to(target)
    (tmp_path / "dir.jpg").mkdir()
    settler.observe(link)
    settler.observe(tmp_path / "dir.jpg")
    assert len(settler) == 0


def test_empty_file_waits_longer_but_is_reported(
    tmp_path: Path, settler: Settler, clock: FakeClock
):
    empty = write(tmp_path / "IMG_0.jpg", b"")
    settler.observe(empty)
    clock.advance(SETTLE)
    assert settler.due() == []
    assert settler.next_deadline() == pytest.approx(clock.now - SETTLE + 10.0)
    clock.advance(10.0)
    assert settler.due() == [empty]


def test_empty_file_that_fills_uses_normal_settle(
    tmp_path: Path, settler: Settler, clock: FakeClock
):
    photo = write(tmp_path / "IMG_0.jpg", b"")
    settler.observe(photo)
    clock.advance(5.0)
    write(photo)
    settler.observe(photo)
    clock.advance(SETTLE)
    assert settler.due() == [photo]


def test_default_empty_settle_is_longer_than_settle(tmp_path: Path, clock: FakeClock):
    settler = Settler(0.5, clock=clock)
    empty = write(tmp_path / "IMG_0.jpg", b"")
    settler.observe(empty)
    clock.advance(0.5)
    assert settler.due() == []
    clock.advance(10 * 0.5)
    assert settler.due() == [empty]


def test_next_deadline_is_earliest_pending(tmp_path: Path, settler: Settler, clock: FakeClock):
    assert settler.next_deadline() is None
    first = write(tmp_path / "a.jpg")
    settler.observe(first)
    start = clock.now
    clock.advance(0.5)
    settler.observe(write(tmp_path / "b.jpg"))
    assert settler.next_deadline() == pytest.approx(start + SETTLE)
    clock.advance(SETTLE - 0.5)
    assert settler.due() == [first]
    assert settler.next_deadline() == pytest.approx(start + 0.5 + SETTLE)


def test_forget(tmp_path: Path, settler: Settler, clock: FakeClock):
    photo = write(tmp_path / "IMG_1.jpg")
    settler.observe(photo)
    settler.forget(photo)
    settler.forget(tmp_path / "unknown.jpg")
    clock.advance(SETTLE)
    assert settler.due() == []


def test_negative_settle_is_refused():
    with pytest.raises(ValueError, match="settle_seconds"):
        Settler(-1)


def test_concurrent_observe_and_due(tmp_path: Path):
    settler = Settler(0.0)  # everything observed is due at once: maximal contention
    photos = [write(tmp_path / f"IMG_{i}.jpg") for i in range(50)]
    reported: list[Path] = []
    stop = threading.Event()

    def observer_thread() -> None:
        for _ in range(20):
            for photo in photos:
                settler.observe(photo)
        stop.set()

    thread = threading.Thread(target=observer_thread)
    thread.start()
    while not stop.is_set() or len(settler):
        reported.extend(settler.due())
    thread.join()
    assert set(reported) == set(photos)
    assert len(settler) == 0
