"""Actor on real files and a real journal: move, copy, tag, collisions, duplicates, dry run,
undo, recovery from the states a crash leaves, cross-filesystem moves and failing destinations."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import write_jpeg
from xintud.core import fs as fs_module
from xintud.core.fs import part_path, rename_no_replace
from xintud.core.hashing import sha256_file
from xintud.library import move as act_module
from xintud.library import steps as steps_module
from xintud.library.actor import Actor
from xintud.library.names import choose_destination
from xintud.library.outcome import ActOutcome
from xintud.library.xmp import read_sidecar, render_new_packet, sidecar_path, write_sidecar
from xintud.state.db import open_state_db
from xintud.state.journal import Action, Journal


class SimulatedCrash(BaseException):
    """Stands for power loss: a BaseException, so no `except Exception` cleanup runs."""


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_state_db(tmp_path / "state" / "state.db")
    yield connection
    connection.close()


@pytest.fixture
def journal(conn: sqlite3.Connection) -> Journal:
    return Journal(conn)


@pytest.fixture
def actor(journal: Journal) -> Actor:
    return Actor(journal)


@pytest.fixture
def camera(tmp_path: Path) -> Path:
    folder = tmp_path / "Camera"
    folder.mkdir()
    return folder


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return tmp_path / "Library" / "Food" / "2026" / "11"


def snap(
    folder: Path, name: str = "IMG_1.jpg", seed: int = 0, size: tuple[int, int] = (160, 120)
) -> tuple[Path, str]:
    """A drawn photo and its sha256."""
    path = write_jpeg(folder / name, size=size, seed=seed)
    return path, sha256_file(path)


def action_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM actions").fetchone()[0]


def state_of(journal: Journal, action_id: int) -> str:
    found = journal.get(action_id)
    assert found is not None
    return found.state


def part_files(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.glob(".xintud-*")]


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """Mount a small tmpfs at `where` (root only; skips where mounting is not allowed)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    where.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "xintud-test", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def readonly_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can write into: mode 0555 for a normal user; for root (who ignores
    mode bits) a read-only tmpfs."""
    folder = tmp_path / "readonly"
    if os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    with tmpfs(folder, "ro,size=1m"):
        yield folder


# --- hashing ---------------------------------------------------------------------------------


def test_sha256_file_matches_hashlib_across_chunk_boundaries(tmp_path: Path) -> None:
    data = os.urandom((1 << 20) * 2 + 123)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(path, chunk_bytes=4096) == hashlib.sha256(data).hexdigest()


# --- move, copy, tag -------------------------------------------------------------------------


def test_move_renames_into_a_created_folder_and_journals_done(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    inode, mtime = src.stat().st_ino, src.stat().st_mtime_ns

    outcome = actor.move(src, library, sha)

    assert outcome.status == "moved", outcome.message
    assert outcome.dst == library / "IMG_1.jpg"
    assert not src.exists()
    assert sha256_file(outcome.dst) == sha
    assert outcome.dst.stat().st_ino == inode, "within one filesystem a move is a rename"
    assert outcome.dst.stat().st_mtime_ns == mtime
    assert outcome.action_id is not None
    assert state_of(journal, outcome.action_id) == "done"
    assert journal.unfinished() == []
    assert part_files(library) == []


def test_copy_leaves_the_source_and_keeps_mtime(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    before = src.read_bytes()

    outcome = actor.copy(src, library, sha)

    assert outcome.status == "copied", outcome.message
    assert src.read_bytes() == before
    assert outcome.dst is not None and outcome.dst.read_bytes() == before
    assert outcome.dst.stat().st_ino != src.stat().st_ino, "a copy, not a hard link"
    assert outcome.dst.stat().st_mtime_ns == src.stat().st_mtime_ns
    assert outcome.action_id is not None and state_of(journal, outcome.action_id) == "done"
    assert part_files(library) == []


def test_tag_writes_a_readable_sidecar_and_never_touches_the_photo(
    actor: Actor, journal: Journal, camera: Path
) -> None:
    src, sha = snap(camera, "IMG_0042.jpg")
    before = src.read_bytes()

    outcome = actor.tag(src, "food", sha)

    assert outcome.status == "tagged", outcome.message
    assert outcome.dst == camera / "IMG_0042.jpg.xmp"
    info = read_sidecar(outcome.dst)
    assert "food" in info.subjects
    assert "xintud|food" in info.hierarchical
    assert src.read_bytes() == before
    assert outcome.action_id is not None and state_of(journal, outcome.action_id) == "done"
    again = actor.tag(src, "food", sha)
    assert again.status == "tagged" and again.action_id is None, "already tagged: no new action"


def test_tag_refuses_a_category_that_cannot_be_a_keyword(actor: Actor, camera: Path) -> None:
    src, sha = snap(camera)
    outcome = actor.tag(src, "a|b", sha)
    assert outcome.status == "failed"
    assert not sidecar_path(src).exists()


def test_name_collision_gets_a_numbered_suffix_and_touches_no_existing_file(
    actor: Actor, camera: Path, library: Path
) -> None:
    library.mkdir(parents=True)
    taken = write_jpeg(library / "IMG_1.jpg", size=(160, 120), seed=1).read_bytes()
    taken1 = write_jpeg(library / "IMG_1 (1).jpg", size=(160, 120), seed=2).read_bytes()
    src, sha = snap(camera, seed=3)

    outcome = actor.move(src, library, sha)

    assert outcome.status == "moved"
    assert outcome.dst == library / "IMG_1 (2).jpg"
    assert sha256_file(outcome.dst) == sha
    assert (library / "IMG_1.jpg").read_bytes() == taken
    assert (library / "IMG_1 (1).jpg").read_bytes() == taken1


def test_identical_file_at_the_destination_is_a_duplicate_and_nothing_moves(
    actor: Actor, conn: sqlite3.Connection, camera: Path, library: Path
) -> None:
    library.mkdir(parents=True)
    write_jpeg(library / "IMG_1.jpg", size=(160, 120), seed=1)  # same name, other content
    src, sha = snap(camera, seed=5)
    shutil.copy2(src, library / "IMG_1 (1).jpg")  # same content under the numbered name

    outcome = actor.move(src, library, sha)

    assert outcome.status == "duplicate", outcome.message
    assert outcome.dst == library / "IMG_1 (1).jpg"
    assert outcome.action_id is None
    assert src.exists() and sha256_file(src) == sha, "the source is left exactly where it is"
    assert sorted(p.name for p in library.iterdir()) == ["IMG_1 (1).jpg", "IMG_1.jpg"]
    assert action_count(conn) == 0


def test_moving_a_file_onto_itself_is_a_duplicate(actor: Actor, camera: Path) -> None:
    src, sha = snap(camera)
    outcome = actor.move(src, camera, sha)
    assert outcome.status == "duplicate"
    assert "already filed" in outcome.message
    assert src.exists()


def test_dry_run_changes_nothing_and_journals_nothing(
    journal: Journal, conn: sqlite3.Connection, camera: Path, library: Path
) -> None:
    dry = Actor(journal, dry_run=True)
    src, sha = snap(camera)
    listing_before = sorted(p.name for p in camera.iterdir())

    moved = dry.move(src, library, sha)
    copied = dry.copy(src, library, sha)
    tagged = dry.tag(src, "food", sha)

    assert [moved.status, copied.status, tagged.status] == ["dry_run"] * 3
    assert moved.dst == library / "IMG_1.jpg" and copied.dst == library / "IMG_1.jpg"
    assert tagged.dst == camera / "IMG_1.jpg.xmp"
    assert not library.exists(), "not even the destination folder is created"
    assert sorted(p.name for p in camera.iterdir()) == listing_before
    assert action_count(conn) == 0


def test_changed_source_is_refused_before_anything_happens(
    actor: Actor, conn: sqlite3.Connection, camera: Path, library: Path
) -> None:
    src, _sha = snap(camera)
    outcome = actor.move(src, library, "0" * 64)
    assert outcome.status == "failed"
    assert "changed since it was analysed" in outcome.message
    assert src.exists() and not library.exists()
    assert action_count(conn) == 0


def test_missing_source_fails_clearly(actor: Actor, camera: Path, library: Path) -> None:
    outcome = actor.move(camera / "gone.jpg", library, "0" * 64)
    assert outcome.status == "failed" and "gone.jpg is gone" in outcome.message


# --- no-replace rename -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["syscall", "link-fallback"])
def test_rename_no_replace_never_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    if mode == "link-fallback":
        monkeypatch.setattr(fs_module, "_noreplace_rename_call", lambda: None)
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"mine")
    b.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        rename_no_replace(a, b)
    assert a.read_bytes() == b"mine" and b.read_bytes() == b"theirs"
    c = tmp_path / "c"
    rename_no_replace(a, c)
    assert not a.exists() and c.read_bytes() == b"mine"


def test_choose_destination_without_dedupe_always_takes_a_free_name(camera: Path) -> None:
    src, sha = snap(camera)
    placement = choose_destination(src, camera, sha, dedupe=False)
    assert placement.dst == camera / "IMG_1 (1).jpg" and not placement.identical


# --- across filesystems ----------------------------------------------------------------------


def test_forced_cross_device_move_copies_verifies_and_unlinks(
    journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    inode, mtime = src.stat().st_ino, src.stat().st_mtime_ns

    outcome = Actor(journal, force_cross_device=True).move(src, library, sha)

    assert outcome.status == "moved", outcome.message
    assert outcome.dst is not None
    assert not src.exists()
    assert sha256_file(outcome.dst) == sha
    assert outcome.dst.stat().st_ino != inode, "took the copy path, not a rename"
    assert outcome.dst.stat().st_mtime_ns == mtime
    assert part_files(library) == []
    assert outcome.action_id is not None and state_of(journal, outcome.action_id) == "done"


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("/dev/shm is not available for a second filesystem")
    if shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("/dev/shm is on the same filesystem as tmp_path; no real cross-fs move")
    folder = Path(tempfile.mkdtemp(prefix="xintud-test-", dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_real_cross_filesystem_move_and_undo(
    actor: Actor, journal: Journal, camera: Path, other_filesystem: Path
) -> None:
    src, sha = snap(camera)
    dst_dir = other_filesystem / "Food"

    outcome = actor.move(src, dst_dir, sha)

    assert outcome.status == "moved", outcome.message
    assert not src.exists() and outcome.dst is not None and sha256_file(outcome.dst) == sha
    assert part_files(dst_dir) == []
    action = journal.get(outcome.action_id or 0)
    assert action is not None

    back = actor.undo(action)

    assert back.status == "undone", back.message
    assert sha256_file(src) == sha and not outcome.dst.exists()
    assert part_files(camera) == []


# --- failing destinations --------------------------------------------------------------------


def test_read_only_destination_fails_with_a_clear_message_and_source_untouched(
    actor: Actor, journal: Journal, camera: Path, readonly_dir: Path
) -> None:
    src, sha = snap(camera)
    before = src.read_bytes()

    outcome = actor.move(src, readonly_dir, sha)

    assert outcome.status == "failed"
    assert str(src) in outcome.message
    assert "read-only" in outcome.message or "permission denied" in outcome.message
    assert "left untouched" in outcome.message
    assert ".xintud-" not in outcome.message, "the folder is named, not our temp file"
    assert src.read_bytes() == before
    assert list(readonly_dir.iterdir()) == []
    assert outcome.action_id is not None and state_of(journal, outcome.action_id) == "failed"
    assert journal.unfinished() == []


def test_unwritable_parent_of_a_missing_destination_fails(
    actor: Actor, camera: Path, readonly_dir: Path
) -> None:
    src, sha = snap(camera)
    outcome = actor.copy(src, readonly_dir / "Food" / "2026", sha)
    assert outcome.status == "failed"
    assert "cannot create folder" in outcome.message and str(readonly_dir) in outcome.message
    assert src.exists()


def test_destination_under_a_file_fails(actor: Actor, camera: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "Library"
    blocker.write_text("not a folder")
    src, sha = snap(camera)
    outcome = actor.move(src, blocker / "Food", sha)
    assert outcome.status == "failed" and "not a folder" in outcome.message
    assert src.exists() and blocker.read_text() == "not a folder"


def test_missing_library_root_is_not_created(
    journal: Journal, camera: Path, tmp_path: Path
) -> None:
    root = tmp_path / "media" / "usb" / "Pictures"  # an unplugged drive
    src, sha = snap(camera)
    outcome = Actor(journal, library_root=root).move(src, root / "Food", sha)
    assert outcome.status == "failed" and "unplugged" in outcome.message
    assert not root.exists() and src.exists()


def test_full_disk_injected_fails_and_cleans_the_temp_file(
    journal: Journal, camera: Path, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "somewhere")

    monkeypatch.setattr(fs_module.shutil, "copyfileobj", disk_full)
    src, sha = snap(camera)

    outcome = Actor(journal, force_cross_device=True).move(src, library, sha)

    assert outcome.status == "failed"
    assert "disk is full" in outcome.message and "free some space" in outcome.message
    assert src.exists() and sha256_file(src) == sha
    assert list(library.iterdir()) == [], "no temp file and no partial copy left"
    assert outcome.action_id is not None and state_of(journal, outcome.action_id) == "failed"


def test_real_full_disk(actor: Actor, journal: Journal, camera: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "tiny", "size=16k") as tiny:
        src, sha = snap(camera, size=(1024, 768))
        assert src.stat().st_size > 16 * 1024
        outcome = actor.copy(src, tiny, sha)
        assert outcome.status == "failed"
        assert "disk is full" in outcome.message
        assert list(tiny.iterdir()) == []
        assert sha256_file(src) == sha


def test_corrupted_copy_is_caught_by_verification(
    journal: Journal, camera: Path, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_copy = shutil.copyfileobj

    def flipping_copy(source, target, length=0) -> None:  # type: ignore[no-untyped-def]
        real_copy(source, target, length)
        target.write(b"\x00")  # one stray byte: what a bad cable or disk might do

    monkeypatch.setattr(fs_module.shutil, "copyfileobj", flipping_copy)
    src, sha = snap(camera)

    outcome = Actor(journal, force_cross_device=True).move(src, library, sha)

    assert outcome.status == "failed"
    assert "does not match" in outcome.message
    assert sha256_file(src) == sha
    assert list(library.iterdir()) == []


def test_source_that_cannot_be_removed_after_the_copy_is_kept_and_the_copy_taken_back(
    actor: Actor, journal: Journal, tmp_path: Path, library: Path
) -> None:
    if os.geteuid() != 0:
        source_dir = tmp_path / "ro-camera"
        source_dir.mkdir()
        src, sha = snap(source_dir)
        source_dir.chmod(0o555)
        try:
            outcome = Actor(journal, force_cross_device=True).move(src, library, sha)
        finally:
            source_dir.chmod(0o755)
        _check_taken_back(outcome, src, sha, library)
        return
    with tmpfs(tmp_path / "ro-camera", "size=1m") as source_dir:
        src, sha = snap(source_dir)
        subprocess.run(["mount", "-o", "remount,ro", str(source_dir)], check=True)
        outcome = actor.move(src, library, sha)  # another fs, so the copy path anyway
        _check_taken_back(outcome, src, sha, library)


def _check_taken_back(outcome: ActOutcome, src: Path, sha: str, library: Path) -> None:
    assert outcome.status == "failed", outcome.message
    assert sha256_file(src) == sha
    assert list(library.iterdir()) == [], "the verified copy was removed again"


# --- undo ------------------------------------------------------------------------------------


def done_action(journal: Journal, outcome: ActOutcome) -> Action:
    assert outcome.action_id is not None, outcome.message
    found = journal.get(outcome.action_id)
    assert found is not None and found.state == "done"
    return found


def test_undo_move_puts_the_photo_back(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    action = done_action(journal, actor.move(src, library, sha))

    outcome = actor.undo(action)

    assert outcome.status == "undone", outcome.message
    assert outcome.dst == src and sha256_file(src) == sha
    assert not (library / "IMG_1.jpg").exists()
    assert state_of(journal, action.id) == "undone"
    assert outcome.action_id is not None and outcome.action_id != action.id
    assert state_of(journal, outcome.action_id) == "done", "the undo is journaled as a move"
    second = actor.undo(journal.get(action.id))  # type: ignore[arg-type]
    assert second.status == "failed" and "only a done action" in second.message


def test_undo_move_when_the_old_name_is_taken_uses_a_suffix_and_says_so(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    action = done_action(journal, actor.move(src, library, sha))
    newcomer = write_jpeg(camera / "IMG_1.jpg", size=(160, 120), seed=9).read_bytes()

    outcome = actor.undo(action)

    assert outcome.status == "undone"
    assert outcome.dst == camera / "IMG_1 (1).jpg" and sha256_file(outcome.dst) == sha
    assert "taken by another file" in outcome.message
    assert (camera / "IMG_1.jpg").read_bytes() == newcomer


def test_undo_refuses_when_the_file_changed(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    action = done_action(journal, actor.move(src, library, sha))
    moved = library / "IMG_1.jpg"
    with open(moved, "ab") as handle:
        handle.write(b"edited")
    edited = moved.read_bytes()

    outcome = actor.undo(action)

    assert outcome.status == "failed"
    assert "sha256 differs" in outcome.message and str(moved) in outcome.message
    assert moved.read_bytes() == edited and not src.exists()
    assert state_of(journal, action.id) == "done"


def test_undo_refuses_when_the_file_is_gone(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    action = done_action(journal, actor.move(src, library, sha))
    (library / "IMG_1.jpg").rename(library.parent / "elsewhere.jpg")
    outcome = actor.undo(action)
    assert outcome.status == "failed" and "no longer there" in outcome.message
    assert state_of(journal, action.id) == "done"


def test_undo_copy_removes_only_a_matching_copy(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    action = done_action(journal, actor.copy(src, library, sha))

    outcome = actor.undo(action)

    assert outcome.status == "undone", outcome.message
    assert not (library / "IMG_1.jpg").exists() and sha256_file(src) == sha
    assert state_of(journal, action.id) == "undone"


def test_undo_copy_refuses_when_the_copy_changed(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    action = done_action(journal, actor.copy(src, library, sha))
    (library / "IMG_1.jpg").write_bytes(b"edited elsewhere")
    outcome = actor.undo(action)
    assert outcome.status == "failed" and "sha256 differs" in outcome.message
    assert (library / "IMG_1.jpg").read_bytes() == b"edited elsewhere"


def test_undo_copy_refuses_when_the_copy_is_the_last_one(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    action = done_action(journal, actor.copy(src, library, sha))
    src.unlink()  # the user deleted the original
    outcome = actor.undo(action)
    assert outcome.status == "failed" and "only copy" in outcome.message
    assert sha256_file(library / "IMG_1.jpg") == sha


def test_undo_tag_deletes_a_sidecar_xintud_created(
    actor: Actor, journal: Journal, camera: Path
) -> None:
    src, sha = snap(camera)
    action = done_action(journal, actor.tag(src, "pets", sha))
    outcome = actor.undo(action)
    assert outcome.status == "undone", outcome.message
    assert not sidecar_path(src).exists()
    assert state_of(journal, action.id) == "undone"


def test_undo_tag_on_a_merged_sidecar_keeps_foreign_keywords(
    actor: Actor, journal: Journal, camera: Path
) -> None:
    src, sha = snap(camera)
    sidecar_path(src).write_bytes(render_new_packet(["grandma"], ["people|grandma"]))
    foreign = read_sidecar(sidecar_path(src))
    action = done_action(journal, actor.tag(src, "pets", sha))

    outcome = actor.undo(action)

    assert outcome.status == "undone", outcome.message
    info = read_sidecar(sidecar_path(src))
    assert info.subjects == foreign.subjects == ("grandma",)
    assert info.hierarchical == ("people|grandma",)


def test_undo_tag_refuses_a_sidecar_that_is_no_longer_xmp(
    actor: Actor, journal: Journal, camera: Path
) -> None:
    src, sha = snap(camera)
    action = done_action(journal, actor.tag(src, "pets", sha))
    sidecar_path(src).write_bytes(b"garbage")
    outcome = actor.undo(action)
    assert outcome.status == "failed" and "not well-formed" in outcome.message
    assert sidecar_path(src).read_bytes() == b"garbage"


# --- recovery from crash states --------------------------------------------------------------
# Each test builds the on-disk state a crash at one step leaves, with the journal row still
# "begun", then runs recover() as the next start would.


def begun(journal: Journal, kind: str, sha: str, src: Path, dst: Path) -> Action:
    return journal.begin(kind, sha, src, dst)  # type: ignore[arg-type]


def test_recover_crash_before_anything_rolls_back(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    action = begun(journal, "move", sha, src, library / "IMG_1.jpg")
    lines = actor.recover()
    assert len(lines) == 1 and f"#{action.id}" in lines[0] and "rolled back" in lines[0]
    assert state_of(journal, action.id) == "rolled_back"
    assert sha256_file(src) == sha


@pytest.mark.parametrize("complete", [False, True], ids=["partial-part", "complete-part"])
def test_recover_crash_during_the_copy_removes_only_our_temp_file(
    actor: Actor, journal: Journal, camera: Path, library: Path, complete: bool
) -> None:
    src, sha = snap(camera)
    library.mkdir(parents=True)
    neighbour = write_jpeg(library / "IMG_9.jpg", seed=4).read_bytes()
    action = begun(journal, "move", sha, src, library / "IMG_1.jpg")
    data = src.read_bytes()
    part_path(library, action.id).write_bytes(data if complete else data[: len(data) // 3])

    lines = actor.recover()

    assert "rolled back" in lines[0] and "temp file" in lines[0]
    assert state_of(journal, action.id) == "rolled_back"
    assert sha256_file(src) == sha
    assert sorted(p.name for p in library.iterdir()) == ["IMG_9.jpg"]
    assert (library / "IMG_9.jpg").read_bytes() == neighbour


def test_recover_hard_link_state_finishes_the_move(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    # The link(src, dst) + unlink(src) fallback, interrupted between the two.
    src, sha = snap(camera)
    library.mkdir(parents=True)
    dst = library / "IMG_1.jpg"
    action = begun(journal, "move", sha, src, dst)
    os.link(src, dst)

    lines = actor.recover()

    assert "finished" in lines[0] and "removed the source" in lines[0]
    assert not src.exists() and sha256_file(dst) == sha
    assert state_of(journal, action.id) == "done"


def test_recover_placed_copy_with_source_still_there_finishes_the_move(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    library.mkdir(parents=True)
    dst = library / "IMG_1.jpg"
    action = begun(journal, "move", sha, src, dst)
    shutil.copy2(src, dst)
    part_path(library, action.id).write_bytes(src.read_bytes())  # link placement leftover

    actor.recover()

    assert not src.exists() and sha256_file(dst) == sha
    assert part_files(library) == []
    assert state_of(journal, action.id) == "done"


def test_recover_crash_after_unlink_just_marks_done(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    library.mkdir(parents=True)
    dst = library / "IMG_1.jpg"
    action = begun(journal, "move", sha, src, dst)
    src.rename(dst)
    assert "finished" in actor.recover()[0]
    assert state_of(journal, action.id) == "done" and sha256_file(dst) == sha


def test_recover_leaves_a_changed_source_alone(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    library.mkdir(parents=True)
    dst = library / "IMG_1.jpg"
    action = begun(journal, "move", sha, src, dst)
    shutil.copy2(src, dst)
    src.write_bytes(b"the user saved something else here")

    lines = actor.recover()

    assert "left alone" in lines[0]
    assert src.read_bytes() == b"the user saved something else here"
    assert state_of(journal, action.id) == "done"


def test_recover_never_touches_a_foreign_file_at_the_destination(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    library.mkdir(parents=True)
    dst = library / "IMG_1.jpg"
    action = begun(journal, "move", sha, src, dst)
    theirs = write_jpeg(dst, seed=7).read_bytes()

    lines = actor.recover()

    assert "rolled back" in lines[0] and "another file" in lines[0]
    assert dst.read_bytes() == theirs and sha256_file(src) == sha
    assert state_of(journal, action.id) == "rolled_back"


def test_recover_keeps_the_last_copy_when_the_source_vanished(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    library.mkdir(parents=True)
    dst = library / "IMG_1.jpg"
    action = begun(journal, "copy", sha, src, dst)
    part_path(library, action.id).write_bytes(src.read_bytes())
    src.unlink()

    lines = actor.recover()

    assert "put in place" in lines[0]
    assert sha256_file(dst) == sha and part_files(library) == []
    assert state_of(journal, action.id) == "done"


def test_recover_removes_a_partial_temp_file_even_when_the_source_vanished(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    library.mkdir(parents=True)
    action = begun(journal, "move", sha, src, library / "IMG_1.jpg")
    part_path(library, action.id).write_bytes(src.read_bytes()[:100])
    src.unlink()

    lines = actor.recover()

    assert "rolled back" in lines[0] and "is gone" in lines[0]
    assert list(library.iterdir()) == []
    assert state_of(journal, action.id) == "rolled_back"


def test_recover_waits_when_neither_end_is_reachable(
    actor: Actor, journal: Journal, camera: Path, tmp_path: Path
) -> None:
    src, sha = snap(camera)
    action = begun(journal, "move", sha, src, tmp_path / "unplugged" / "Food" / "IMG_1.jpg")
    src.unlink()  # as if the move had completed onto a drive that is not mounted now

    lines = actor.recover()

    assert "unfinished" in lines[0]
    assert state_of(journal, action.id) == "begun"


def test_recover_copy_states(actor: Actor, journal: Journal, camera: Path, library: Path) -> None:
    src, sha = snap(camera)
    library.mkdir(parents=True)
    unplaced = begun(journal, "copy", sha, src, library / "IMG_1.jpg")
    part_path(library, unplaced.id).write_bytes(b"half")
    placed = begun(journal, "copy", sha, src, library / "IMG_2.jpg")
    shutil.copy2(src, library / "IMG_2.jpg")

    lines = actor.recover()

    assert len(lines) == 2
    assert state_of(journal, unplaced.id) == "rolled_back"
    assert state_of(journal, placed.id) == "done"
    assert sha256_file(src) == sha, "a copy never removes its source"
    assert sorted(p.name for p in library.iterdir()) == ["IMG_2.jpg"]


def test_recover_tag_states(actor: Actor, journal: Journal, camera: Path) -> None:
    src_a, sha_a = snap(camera, "A.jpg", seed=1)
    src_b, sha_b = snap(camera, "B.jpg", seed=2)
    src_c, sha_c = snap(camera, "C.jpg", seed=3)
    # A: crashed while the temp file was being written; sidecar never renamed into place.
    tag_a = begun(journal, "tag", sha_a, src_a, sidecar_path(src_a))
    part_path(camera, tag_a.id).write_bytes(b"<x:xmpmeta")
    # B: the sidecar was renamed into place, the journal never heard of it.
    tag_b = begun(journal, "tag", sha_b, src_b, sidecar_path(src_b))
    write_sidecar(src_b, ["food"], ["xintud|food"], action_id=tag_b.id)
    # C: a foreign sidecar exists; crash before ours was merged in.
    write_sidecar(src_c, ["mine"], ["people|me"])
    foreign = sidecar_path(src_c).read_bytes()
    tag_c = begun(journal, "tag", sha_c, src_c, sidecar_path(src_c))
    part_path(camera, tag_c.id).write_bytes(b"partial")

    actor.recover()

    assert state_of(journal, tag_a.id) == "rolled_back"
    assert not sidecar_path(src_a).exists()
    assert state_of(journal, tag_b.id) == "done"
    assert state_of(journal, tag_c.id) == "rolled_back"
    assert sidecar_path(src_c).read_bytes() == foreign
    assert part_files(camera) == []


def test_recover_an_interrupted_undo_then_undo_again_completes(
    actor: Actor, journal: Journal, camera: Path, library: Path
) -> None:
    src, sha = snap(camera)
    original = done_action(journal, actor.move(src, library, sha))
    moved = library / "IMG_1.jpg"
    # The reverse move was begun and the file placed back (hard link), then the power went.
    reverse = begun(journal, "move", sha, moved, src)
    os.link(moved, src)

    actor.recover()
    assert state_of(journal, reverse.id) == "done"
    assert not moved.exists() and sha256_file(src) == sha
    assert state_of(journal, original.id) == "done"  # the crash came before mark_undone

    outcome = actor.undo(original)
    assert outcome.status == "undone" and "already back" in outcome.message
    assert state_of(journal, original.id) == "undone"


def test_recover_with_nothing_unfinished_says_nothing(actor: Actor) -> None:
    assert actor.recover() == []


# Crashes injected into the real code path: after each step the process "dies" (a
# BaseException nobody catches), then a fresh Actor recovers. Whatever the step, the photo
# ends up exactly once, complete, and no temp file is left.
CRASH_POINTS = [
    "copy_to_new_file",
    "drop_cached_pages",
    "rename_no_replace",
    "fsync_dir",
    "fsync_dirs_after_placement",
]


@pytest.mark.parametrize("cross_device", [True, False], ids=["copy-path", "rename-path"])
@pytest.mark.parametrize("step", CRASH_POINTS)
def test_injected_crash_after_each_step_is_recovered(
    journal: Journal,
    conn: sqlite3.Connection,
    camera: Path,
    library: Path,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    cross_device: bool,
) -> None:
    src, sha = snap(camera)
    library.mkdir(parents=True)  # so the only fsync_dir calls are the move's own
    real = getattr(act_module, step)

    def then_crash(*args: object, **kwargs: object) -> object:
        real(*args, **kwargs)
        raise SimulatedCrash(step)

    # Patched wherever the library calls it from (the step's helpers live in several modules).
    for module in (fs_module, steps_module, act_module):
        if hasattr(module, step):
            monkeypatch.setattr(module, step, then_crash)
    with pytest.raises(SimulatedCrash) if _reaches(step, cross_device) else _no_crash():
        Actor(journal, force_cross_device=cross_device).move(src, library, sha)
    monkeypatch.undo()

    Actor(journal).recover()

    dst = library / "IMG_1.jpg"
    assert journal.unfinished() == []
    assert src.exists() != dst.exists(), "the photo is in exactly one place"
    assert sha256_file(src if src.exists() else dst) == sha
    assert part_files(library, camera) == []
    ((action_id,),) = conn.execute("SELECT id FROM actions").fetchall()
    action = journal.get(action_id)
    assert action is not None
    assert action.state == ("done" if dst.exists() else "rolled_back")


def _reaches(step: str, cross_device: bool) -> bool:
    """Whether a move through this path calls `step` (the rename path skips the copy steps)."""
    return cross_device or step in ("rename_no_replace", "fsync_dir", "fsync_dirs_after_placement")


@contextlib.contextmanager
def _no_crash() -> Iterator[None]:
    yield
