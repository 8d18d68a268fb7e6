"""library.sets on real files and a real journal: a photo and its companions (a Live Photo's
video, .AAE edits, sidecars, Takeout JSON, a RAW twin) move together under the photo's new
name, or none does; undo takes them all back; a crash at any step is recovered into one whole
set, never a split one; a companion that arrives late follows its photo."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import write_jpeg
from xintud.core import fs as fs_module
from xintud.core.hashing import sha256_file
from xintud.intake.companions import companions_of, photos_for
from xintud.intake.settle import IMAGE_SUFFIXES
from xintud.library import move as move_module
from xintud.library import steps as steps_module
from xintud.library.actor import Actor
from xintud.state.db import open_state_db
from xintud.state.journal import Journal


class SimulatedCrash(BaseException):
    """Stands for power loss: nothing catches it."""


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_state_db(tmp_path / "state.db")
    yield connection
    connection.close()


def live_photo(folder: Path) -> dict[str, str]:
    """IMG_0001.jpg with its video, edits, two sidecars and Takeout JSON: name → sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    write_jpeg(folder / "IMG_0001.jpg", seed=1)
    (folder / "IMG_0001.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  " + b"moov" * 50)
    (folder / "IMG_0001.AAE").write_text("<plist>edits</plist>")
    (folder / "IMG_0001.jpg.xmp").write_text("<x:xmpmeta/>")
    (folder / "IMG_0001.jpg.json").write_text('{"title": "IMG_0001.jpg"}')
    (folder / "IMG_0002.MOV").write_bytes(b"another photo's video")
    return {p.name: sha256_file(p) for p in folder.iterdir()}


def test_companions_are_found_by_their_names_only(tmp_path: Path) -> None:
    live_photo(tmp_path / "Camera")
    found = companions_of(tmp_path / "Camera" / "IMG_0001.jpg")
    assert sorted(p.name for p in found) == ["IMG_0001.AAE", "IMG_0001.MOV",
                                             "IMG_0001.jpg.json", "IMG_0001.jpg.xmp"]
    names = {p.name for p in photos_for(tmp_path / "IMG_0001.MOV", IMAGE_SUFFIXES)}
    assert {"IMG_0001.jpg", "IMG_0001.HEIC", "IMG_0001.heic"} <= names
    assert [p.name for p in photos_for(tmp_path / "IMG_0001.HEIC.json", IMAGE_SUFFIXES)] == [
        "IMG_0001.HEIC"]


def test_a_set_moves_together_under_the_photos_new_name_and_undo_takes_it_back(
        tmp_path: Path, conn: sqlite3.Connection) -> None:
    camera, target = tmp_path / "Camera", tmp_path / "Library" / "Food"
    before = live_photo(camera)
    target.mkdir(parents=True)
    write_jpeg(target / "IMG_0001.jpg", seed=9)  # another photo of that name is there
    (target / "IMG_0001 (1).MOV").write_bytes(b"someone's")  # and this name is taken too
    photo = camera / "IMG_0001.jpg"
    actor = Actor(Journal(conn))
    outcome = actor.file_set("move", photo, target, before["IMG_0001.jpg"], companions_of(photo))
    assert outcome.status == "moved" and outcome.dst == target / "IMG_0001 (2).jpg"
    for name in ("IMG_0001 (2).jpg", "IMG_0001 (2).MOV", "IMG_0001 (2).AAE",
                 "IMG_0001 (2).jpg.xmp", "IMG_0001 (2).jpg.json"):
        old = name.replace(" (2)", "")
        assert sha256_file(target / name) == before[old], name
    assert sorted(p.name for p in camera.iterdir()) == ["IMG_0002.MOV"]
    journal = Journal(conn)
    [undoable] = journal.done_actions()
    assert len(journal.members(undoable.id)) == 4, "one undo for the set"

    undone = actor.undo(undoable)
    assert undone.status == "undone", undone.message
    assert {p.name: sha256_file(p) for p in camera.iterdir()} == before
    assert sorted(p.name for p in target.iterdir()) == ["IMG_0001 (1).MOV", "IMG_0001.jpg"]


def test_a_set_is_copied_together_and_undo_removes_the_copies(tmp_path: Path,
                                                               conn: sqlite3.Connection) -> None:
    camera, target = tmp_path / "Camera", tmp_path / "Library" / "Food"
    before = live_photo(camera)
    photo = camera / "IMG_0001.jpg"
    actor = Actor(Journal(conn))
    assert actor.file_set("copy", photo, target, before["IMG_0001.jpg"],
                          companions_of(photo)).status == "copied"
    assert len(list(target.iterdir())) == 5
    assert {p.name: sha256_file(p) for p in camera.iterdir()} == before
    [copied] = Journal(conn).done_actions()
    assert actor.undo(copied).status == "undone"
    assert list(target.iterdir()) == [] and len(list(camera.iterdir())) == 6


@pytest.mark.parametrize("cross_device", [False, True], ids=["rename", "copy-path"])
@pytest.mark.parametrize("crash_at", [1, 2, 3, 4, 5])
def test_a_crash_at_any_transfer_is_recovered_into_one_whole_set(
        tmp_path: Path, conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch,
        crash_at: int, cross_device: bool) -> None:
    camera, target = tmp_path / "Camera", tmp_path / "Library" / "Food"
    before = live_photo(camera)
    del before["IMG_0002.MOV"]
    photo = camera / "IMG_0001.jpg"
    real, calls = fs_module.rename_no_replace, []

    def rename_then_maybe_crash(src: Path, dst: Path) -> None:
        real(src, dst)
        calls.append(dst)
        if len(calls) == crash_at:  # the 5th is the photo's own: after it, all had arrived
            raise SimulatedCrash(dst)

    for module in (fs_module, steps_module, move_module):
        if hasattr(module, "rename_no_replace"):
            monkeypatch.setattr(module, "rename_no_replace", rename_then_maybe_crash)
    with pytest.raises(SimulatedCrash):
        Actor(Journal(conn), force_cross_device=cross_device).file_set(
            "move", photo, target, before["IMG_0001.jpg"], companions_of(photo))
    monkeypatch.undo()

    Actor(Journal(conn)).recover()
    assert Journal(conn).unfinished() == []
    here = {p.name: sha256_file(p) for p in camera.iterdir() if p.name != "IMG_0002.MOV"}
    there = {p.name: sha256_file(p) for p in target.iterdir()} if target.exists() else {}
    assert here == before and there == {} or here == {} and there == before, (here, there)
    assert (there == before) == (crash_at == 5), "the photo's arrival decides"
    assert not [p for p in tmp_path.rglob("*.part")], "no temp file is left"


def test_a_companion_that_arrives_late_follows_its_photo_and_undo_takes_both(
        tmp_path: Path, conn: sqlite3.Connection) -> None:
    camera, target = tmp_path / "Camera", tmp_path / "Library" / "Food"
    camera.mkdir()
    write_jpeg(camera / "IMG_0003.jpg", seed=3)
    photo = camera / "IMG_0003.jpg"
    journal = Journal(conn)
    actor = Actor(journal)
    assert actor.move(photo, target, sha256_file(photo)).status == "moved"
    late = camera / "IMG_0003.MOV"
    late.write_bytes(b"the video, uploaded a minute later")
    [filed] = journal.done_actions()
    followed = actor.follow(late, filed)
    assert followed.status == "moved" and followed.dst == target / "IMG_0003.MOV"
    assert actor.undo(journal.done_actions()[0]).status == "undone"
    assert sorted(p.name for p in camera.iterdir()) == ["IMG_0003.MOV", "IMG_0003.jpg"]
