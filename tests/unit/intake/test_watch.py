"""Watch stage with real watchdog events from real file writes, fed through a real Settler."""

from __future__ import annotations

import io
import logging
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from xintud.intake.scan import reconcile_scan
from xintud.intake.settle import Settler
from xintud.intake.watch import FolderWatcher

SETTLE = 0.4
DEADLINE = 10.0
POLL = 0.02


@dataclass(frozen=True)
class Folder:
    """Stands in for config.WatchFolder (same two attributes)."""

    path: Path
    kind: str = "camera"


def jpeg_bytes(size: tuple[int, int] = (320, 240), seed: int = 0) -> bytes:
    """A real JPEG with noisy content, so it is not tiny."""
    noise = Image.effect_noise(size, 60 + seed % 40).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


class Harness:
    """Runs a FolderWatcher into a Settler, like the daemon loop, and counts what comes out."""

    def __init__(
        self,
        folders: Sequence[Folder],
        ignore: Sequence[str] = (),
        on_path: Callable[[Path, str], None] | None = None,
        create_missing: bool = False,
    ) -> None:
        self.settler = Settler(SETTLE, empty_settle_seconds=SETTLE)
        self.reported: Counter[Path] = Counter()  # every on_path call
        self.kinds: dict[Path, str] = {}
        self.due: Counter[Path] = Counter()
        self.due_at: dict[Path, float] = {}
        self.size_when_due: dict[Path, int] = {}
        self._lock = threading.Lock()
        self._extra = on_path
        self.watcher = FolderWatcher(
            folders, self.on_path, ignore=ignore, create_missing=create_missing
        )

    def on_path(self, path: Path, kind: str) -> None:
        if self._extra is not None:
            self._extra(path, kind)
        with self._lock:
            self.reported[path] += 1
            self.kinds[path] = kind
        self.settler.observe(path)

    def poll(self) -> list[Path]:
        ready = self.settler.due()
        for path in ready:
            self.due[path] += 1
            self.due_at[path] = time.monotonic()
            self.size_when_due[path] = path.stat().st_size
        return ready

    def wait_for(self, condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if condition():
                return
            time.sleep(POLL)
        raise AssertionError(f"timed out; due so far: {dict(self.due)}")

    def wait_due(self, *paths: Path) -> None:
        self.wait_for(lambda: all(self.due[p] >= 1 for p in paths))

    def keep_polling(self, seconds: float = 2 * SETTLE) -> None:
        """Poll a while longer so a duplicate report would show up."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()
            time.sleep(POLL)

    def reported_paths(self) -> set[Path]:
        with self._lock:
            return set(self.reported)


@pytest.fixture
def watch_root(tmp_path: Path) -> Path:
    root = tmp_path / "Camera"
    root.mkdir()
    return root


@pytest.fixture
def harness(watch_root: Path):
    h = Harness([Folder(watch_root)])
    h.watcher.start()
    yield h
    h.watcher.stop()


def write_slowly(path: Path, data: bytes, chunks: int, pause: float, during=None) -> float:
    """Write like a slow sync client: chunks with pauses, calling during() in between.

    Returns the monotonic time of the last write.
    """
    step = -(-len(data) // chunks)
    last_write = time.monotonic()
    with path.open("wb") as f:
        for start in range(0, len(data), step):
            f.write(data[start : start + step])
            f.flush()
            last_write = time.monotonic()
            if during is not None:
                during()
            time.sleep(pause)
            if during is not None:
                during()
    return last_write


def test_slow_chunked_write_is_due_once_after_writes_stop(harness: Harness, watch_root: Path):
    photo = watch_root / "IMG_0001.jpg"
    data = jpeg_bytes((640, 480))

    def nothing_due_yet() -> None:
        assert harness.poll() == [], "reported while still being written"

    finished = write_slowly(photo, data, chunks=6, pause=SETTLE / 4, during=nothing_due_yet)
    harness.wait_due(photo)
    harness.keep_polling()
    assert harness.due == Counter({photo: 1})
    assert harness.size_when_due[photo] == len(data)
    assert harness.due_at[photo] - finished >= SETTLE * 0.9
    assert harness.kinds[photo] == "camera"


def test_cp_style_copy_is_due_once(harness: Harness, watch_root: Path, tmp_path: Path):
    source = tmp_path / "outside.jpg"
    source.write_bytes(jpeg_bytes(seed=1))
    photo = watch_root / "IMG_0002.jpg"
    shutil.copyfile(source, photo)
    harness.wait_due(photo)
    events_before_reading = harness.reported[photo]
    assert photo.read_bytes() == source.read_bytes()  # the daemon reading it must not re-report
    harness.keep_polling()
    assert harness.due == Counter({photo: 1})
    assert harness.reported[photo] == events_before_reading


@pytest.mark.parametrize(
    ("temp_name", "final_name"),
    [
        (".IMG_1.jpg.AbC123", "IMG_1.jpg"),  # rsync
        ("IMG_2.jpg.part", "IMG_2.jpg"),  # sync clients, browsers
        (".syncthing.IMG_3.jpg.tmp", "IMG_3.jpg"),  # Syncthing
    ],
)
def test_temp_name_renamed_at_end_is_due_once_under_final_name(
    harness: Harness, watch_root: Path, temp_name: str, final_name: str
):
    temp = watch_root / temp_name
    photo = watch_root / final_name
    write_slowly(temp, jpeg_bytes(seed=2), chunks=3, pause=SETTLE / 4, during=harness.poll)
    assert harness.reported_paths() == set(), "a temp name was reported"
    os.rename(temp, photo)
    harness.wait_due(photo)
    harness.keep_polling()
    assert harness.due == Counter({photo: 1})
    assert harness.reported_paths() == {photo}


def test_nested_folders_created_after_start(harness: Harness, watch_root: Path):
    deep = watch_root / "DCIM" / "Camera" / "2026" / "11"
    deep.mkdir(parents=True)
    first = deep / "IMG_1.jpg"
    first.write_bytes(jpeg_bytes(seed=3))
    later = watch_root / "DCIM" / "Camera" / "2027"
    later.mkdir()
    second = later / "IMG_2.png"
    Image.new("RGB", (64, 48), "red").save(second)
    harness.wait_due(first, second)
    harness.keep_polling()
    assert harness.due == Counter({first: 1, second: 1})


def test_folder_tree_moved_in_is_seen(harness: Harness, watch_root: Path, tmp_path: Path):
    staging = tmp_path / "import" / "2026-11-29"
    (staging / "sub").mkdir(parents=True)
    photos = [staging / "a.jpg", staging / "sub" / "b.jpg"]
    for i, photo in enumerate(photos):
        photo.write_bytes(jpeg_bytes((32, 32), seed=i))
    os.rename(staging, watch_root / "2026-11-29")  # e.g. a file manager's move from USB
    moved = [watch_root / "2026-11-29" / "a.jpg", watch_root / "2026-11-29" / "sub" / "b.jpg"]
    harness.wait_due(*moved)
    harness.keep_polling()
    assert harness.due == Counter(dict.fromkeys(moved, 1))


def test_many_files_at_once_are_all_seen(harness: Harness, watch_root: Path):
    data = jpeg_bytes((16, 16))
    photos = [watch_root / f"IMG_{i:04d}.jpg" for i in range(200)]
    for photo in photos:
        photo.write_bytes(data)
    harness.wait_due(*photos)
    harness.keep_polling()
    assert harness.due == Counter(dict.fromkeys(photos, 1))


def test_temp_files_and_dotfiles_are_never_reported(watch_root: Path):
    harness = Harness([Folder(watch_root)], ignore=["*_thumb.jpg", "Trash"])
    harness.watcher.start()
    try:
        data = jpeg_bytes((32, 32))
        for name in [
            "a.jpg.part",
            "b.jpg.crdownload",
            "c.jpg.tmp",
            ".hidden.jpg",
            "~$d.jpg",
            ".syncthing.e.jpg.tmp",
            ".pending-1700000000-f.jpg",
            ".xintud-1a2b.part",
            ".xintud-1a2b.jpg.part",
            "g_thumb.jpg",
            "notes.txt",
            "clip.mp4",
        ]:
            (watch_root / name).write_bytes(data)
        for folder in [".stfolder", ".thumbnails", "DCIM/.trashed", "Trash"]:
            (watch_root / folder).mkdir(parents=True)
            (watch_root / folder / "IMG_9.jpg").write_bytes(data)
        sentinel = watch_root / "zz_sentinel.jpg"
        sentinel.write_bytes(data)  # written last: once it is due, the others had their chance
        harness.wait_due(sentinel)
        harness.keep_polling()
        assert harness.reported_paths() == {sentinel}
        assert harness.due == Counter({sentinel: 1})
    finally:
        harness.watcher.stop()


def test_symlinks_are_never_reported(harness: Harness, watch_root: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    target = outside / "target.jpg"
    target.write_bytes(jpeg_bytes(seed=4))
    (watch_root / "link.jpg").symlink_to(target)
    (watch_root / "linked_dir").symlink_to(outside, target_is_directory=True)
    (outside / "new_in_linked_dir.jpg").write_bytes(jpeg_bytes(seed=5))
    sentinel = watch_root / "zz_sentinel.jpg"
    sentinel.write_bytes(jpeg_bytes(seed=6))
    harness.wait_due(sentinel)
    harness.keep_polling()
    assert harness.reported_paths() == {sentinel}


def test_symlinked_watch_folder_reports_paths_under_configured_path(tmp_path: Path):
    real = tmp_path / "sync" / "Camera"
    real.mkdir(parents=True)
    configured = tmp_path / "Camera"
    configured.symlink_to(real, target_is_directory=True)
    harness = Harness([Folder(configured)])
    harness.watcher.start()
    try:
        (real / "IMG_1.jpg").write_bytes(jpeg_bytes(seed=7))
        photo = configured / "IMG_1.jpg"
        harness.wait_due(photo)
        assert harness.due == Counter({photo: 1})
    finally:
        harness.watcher.stop()


def test_nested_watch_folder_reports_its_own_kind_once(tmp_path: Path):
    pictures = tmp_path / "Pictures"
    screenshots = pictures / "Screenshots"
    screenshots.mkdir(parents=True)
    harness = Harness([Folder(pictures, "camera"), Folder(screenshots, "screenshots")])
    harness.watcher.start()
    try:
        shot = screenshots / "Screenshot_1.png"
        photo = pictures / "IMG_1.jpg"
        Image.new("RGB", (40, 80), "white").save(shot)
        photo.write_bytes(jpeg_bytes(seed=8))
        harness.wait_due(shot, photo)
        harness.keep_polling()
        assert harness.reported[shot] >= 1
        assert harness.kinds == {shot: "screenshots", photo: "camera"}
        assert harness.due == Counter({shot: 1, photo: 1})
    finally:
        harness.watcher.stop()


def test_missing_folder_is_logged_and_others_are_watched(
    tmp_path: Path, watch_root: Path, caplog: pytest.LogCaptureFixture
):
    missing = tmp_path / "Screenshots"
    harness = Harness([Folder(missing, "screenshots"), Folder(watch_root)])
    with caplog.at_level(logging.WARNING, logger="xintud.intake.watch"):
        harness.watcher.start()
        harness.watcher.start()  # a retry does not repeat the warning
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert str(missing) in warnings[0] and "does not exist" in warnings[0]
        assert "mkdir -p" in warnings[0]
        assert harness.watcher.missing == [missing]
        photo = watch_root / "IMG_1.jpg"
        photo.write_bytes(jpeg_bytes(seed=9))
        harness.wait_due(photo)

        missing.mkdir()
        harness.watcher.start()  # the daemon retries later
        assert harness.watcher.missing == []
        shot = missing / "Screenshot_1.png"
        Image.new("RGB", (40, 80), "white").save(shot)
        harness.wait_due(shot)
        assert harness.kinds[shot] == "screenshots"
    finally:
        harness.watcher.stop()


def test_create_missing_creates_the_folder(tmp_path: Path):
    missing = tmp_path / "Pictures" / "Camera"
    harness = Harness([Folder(missing)], create_missing=True)
    harness.watcher.start()
    try:
        assert missing.is_dir()
        photo = missing / "IMG_1.jpg"
        photo.write_bytes(jpeg_bytes(seed=10))
        harness.wait_due(photo)
    finally:
        harness.watcher.stop()


def test_deleted_and_recreated_folder_is_watched_again(harness: Harness, watch_root: Path):
    assert harness.watcher.watched == [watch_root]
    shutil.rmtree(watch_root)
    harness.wait_for(lambda: harness.watcher.missing == [watch_root])
    watch_root.mkdir()  # ext4 may even hand out the same inode number again
    harness.watcher.start()
    assert harness.watcher.watched == [watch_root]
    photo = watch_root / "IMG_1.jpg"
    photo.write_bytes(jpeg_bytes(seed=11))
    harness.wait_due(photo)


def test_failing_callback_does_not_stop_watching(watch_root: Path):
    failures = []

    def fail_first(path: Path, kind: str) -> None:
        if not failures:
            failures.append(path)
            raise RuntimeError("boom")

    harness = Harness([Folder(watch_root)], on_path=fail_first)
    harness.watcher.start()
    try:
        (watch_root / "IMG_1.jpg").write_bytes(jpeg_bytes(seed=12))
        second = watch_root / "IMG_2.jpg"
        time.sleep(0.1)
        second.write_bytes(jpeg_bytes(seed=13))
        harness.wait_due(second)
        assert failures
    finally:
        harness.watcher.stop()


def test_stop_is_quick_and_restartable(harness: Harness, watch_root: Path):
    started = time.monotonic()
    harness.watcher.stop()
    assert time.monotonic() - started < 2.5
    harness.watcher.stop()  # idempotent
    harness.watcher.start()
    photo = watch_root / "IMG_1.jpg"
    photo.write_bytes(jpeg_bytes(seed=14))
    harness.wait_due(photo)


# --- reconcile_scan ------------------------------------------------------------------------


def test_reconcile_scan_finds_existing_files_and_skips_the_rest(tmp_path: Path):
    root = tmp_path / "Camera"
    data = jpeg_bytes((16, 16))
    wanted = [
        root / "IMG_1.jpg",
        root / "IMG_2.HEIC",
        root / "DCIM" / "Camera" / "2026" / "IMG_3.png",
    ]
    skipped = [
        root / "IMG_4.jpg.part",
        root / ".IMG_5.jpg.AbC123",
        root / ".stfolder" / "IMG_6.jpg",
        root / "DCIM" / ".thumbnails" / "IMG_7.jpg",
        root / "notes.txt",
        root / "Trash" / "IMG_8.jpg",
    ]
    for path in wanted + skipped:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "IMG_9.jpg").write_bytes(data)
    (root / "link.jpg").symlink_to(outside / "IMG_9.jpg")
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)

    found = list(reconcile_scan([Folder(root)], ignore=["Trash"]))
    assert found == [(p, "camera") for p in wanted]  # each folder's files, then its subfolders


def test_reconcile_scan_handles_missing_nested_and_duplicate_folders(tmp_path: Path):
    pictures = tmp_path / "Pictures"
    shots = pictures / "Screenshots"
    shots.mkdir(parents=True)
    photo = pictures / "IMG_1.jpg"
    shot = shots / "Screenshot_1.png"
    photo.write_bytes(jpeg_bytes((16, 16)))
    shot.write_bytes(jpeg_bytes((16, 16)))
    folders = [
        Folder(tmp_path / "missing"),
        Folder(pictures, "camera"),
        Folder(shots, "screenshots"),
        Folder(pictures, "camera"),
    ]
    assert sorted(reconcile_scan(folders)) == [(photo, "camera"), (shot, "screenshots")]


def test_reconcile_scan_accepts_config_watch_folder(tmp_path: Path):
    # A plain import: xintud's own config must never turn into a skip.
    from xintud.config import schema as config

    photo = tmp_path / "IMG_1.jpg"
    photo.write_bytes(jpeg_bytes((16, 16)))
    folder = config.WatchFolder(path=tmp_path, kind="camera")
    assert list(reconcile_scan([folder])) == [(photo, "camera")]
