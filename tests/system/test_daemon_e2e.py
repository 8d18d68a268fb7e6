"""The daemon end to end: real process, real watchdog events, real socket, models and SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.support.daemon_tree import DaemonTree, sha256, wait_for
from tests.support.images import camera_exif, write_jpeg

pytestmark = pytest.mark.slow


def draw_screenshot(path: Path) -> Path:
    """A phone-screen-sized PNG: status bar, app bar, text lines, buttons."""
    image = Image.new("RGB", (1080, 2340), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1080, 90), fill=(30, 30, 30))
    draw.rectangle((0, 90, 1080, 260), fill=(33, 150, 243))
    for row in range(14):
        y = 320 + row * 140
        draw.rectangle((60, y, 60 + 900 - (row * 37) % 300, y + 40), fill=(60, 60, 60))
        draw.rectangle((60, y + 60, 700, y + 85), fill=(150, 150, 150))
    draw.rounded_rectangle((700, 2150, 1020, 2280), radius=40, fill=(33, 150, 243))
    image.save(path)
    return path


def write_slowly(path: Path, data: bytes, chunks: int = 5, pause: float = 0.3) -> None:
    """Write a file in chunks with pauses, as a slow sync client would."""
    step = len(data) // chunks + 1
    with path.open("wb") as handle:
        for start in range(0, len(data), step):
            handle.write(data[start:start + step])
            handle.flush()
            time.sleep(pause)


def all_hashes(tree: DaemonTree) -> list[str]:
    """sha256 of every photo anywhere in the tree's watch folders and library."""
    return sorted(sha256(p) for p in tree.tree_files() if not p.name.endswith(".xmp"))


def test_daemon_files_pauses_undoes_and_restarts(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    daemon = tree.start()
    try:
        originals = {}
        for i in range(4):
            path = write_jpeg(tree.camera / f"IMG_{i:04d}.jpg", seed=i,
                              exif=camera_exif(taken="2025:07:14 12:00:00"))
            originals[path.name] = sha256(path)
        slow_source = tmp_path / "slow.jpg"
        write_jpeg(slow_source, size=(1600, 1200), seed=9)
        write_slowly(tree.camera / "IMG_slow.jpg", slow_source.read_bytes())
        originals["IMG_slow.jpg"] = sha256(tree.camera / "IMG_slow.jpg")
        # rsync style: written under a dot-name, renamed when whole
        temp = tree.camera / ".IMG_rsync.jpg.Ab12Cd"
        write_jpeg(temp, seed=11)
        originals["IMG_rsync.jpg"] = sha256(temp)
        temp.rename(tree.camera / "IMG_rsync.jpg")
        shot = draw_screenshot(tree.screenshots / "Screenshot_20261129-101010.png")
        originals[shot.name] = sha256(shot)
        (tree.camera / "notes.jpg").write_text("this is not a photo\n")

        wait_for(lambda: len(tree.library_files()) == len(originals), timeout=60,
                 what="all photos filed")
        filed = {p.name: p for p in tree.library_files()}
        assert set(filed) == set(originals)
        for name, digest in originals.items():
            assert sha256(filed[name]) == digest
        assert filed["IMG_0000.jpg"].parent.relative_to(tree.library).parts[1:] == ("2025", "07")
        assert filed[shot.name].relative_to(tree.library).parts[0] == "Screenshots"
        assert (tree.camera / "notes.jpg").exists(), "a bad file must stay where it is"
        wait_for(lambda: tree.status()["failed"] == 1, what="the bad file recorded as failed")
        status = tree.status()
        assert status["state"] == "running"
        assert status["processed"] == len(originals) + 1
        assert "filed" in tree.logs() and "IMG_slow.jpg" in tree.logs()

        # pause: a new photo waits in the queue; resume files it
        assert tree.ctl("pause").returncode == 0
        write_jpeg(tree.camera / "IMG_paused.jpg", seed=21)
        wait_for(lambda: tree.status()["queue"] == 1, what="the photo queued while paused")
        time.sleep(1.0)
        assert (tree.camera / "IMG_paused.jpg").exists()
        assert tree.status()["state"] == "paused"
        assert tree.ctl("resume").returncode == 0
        wait_for(lambda: not (tree.camera / "IMG_paused.jpg").exists(), what="filing on resume")

        # explain says why
        explained = tree.ctl("explain", str(next(p for p in tree.library_files()
                                                  if p.name == "IMG_paused.jpg")))
        assert explained.returncode == 0, explained.stderr
        assert "imagenet" in explained.stdout.lower() or "score" in explained.stdout.lower()
        # ... with the faces and writing it saw (or that it did not look), the rules and gates
        # that applied, and the model
        for line in ("  faces: ", "  text: ", "  rule: ", "  quality: score ", "  model: xintud-"):
            assert line in explained.stdout, explained.stdout

        # undo brings the last photo back, and it stays back
        undo = tree.ctl("undo")
        assert undo.returncode == 0, undo.stderr
        assert (tree.camera / "IMG_paused.jpg").exists()
        time.sleep(2.0)
        assert (tree.camera / "IMG_paused.jpg").exists(), "an undone photo must not be re-filed"
    finally:
        code = tree.stop(daemon)
    assert code == 0, tree.logs()

    # restart: the undone photo stays, a new one is filed, nothing is processed twice
    daemon = tree.start()
    try:
        write_jpeg(tree.camera / "IMG_after.jpg", seed=31)
        wait_for(lambda: any(p.name == "IMG_after.jpg" for p in tree.library_files()),
                 what="filing after restart")
        time.sleep(1.0)
        assert (tree.camera / "IMG_paused.jpg").exists()
        assert tree.logs().count("filed IMG_0000.jpg") == 1
    finally:
        assert tree.stop(daemon) == 0, tree.logs()
    hashes = all_hashes(tree)
    assert len(hashes) == len(set(hashes)), "every photo must exist exactly once"
    assert len(hashes) == len(originals) + 3  # + paused, after, and the bad file


def test_second_daemon_refuses_to_start(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    first = tree.start()
    try:
        import subprocess
        import sys

        second = subprocess.run([sys.executable, "-m", "xintud", "--config", str(tree.config)],
                                env=tree.env(), capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "already running" in second.stderr
    finally:
        assert tree.stop(first) == 0


def test_xintuctl_says_clearly_when_daemon_is_not_running(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    done = tree.ctl("status")
    assert done.returncode == 3
    assert "not running" in done.stderr
