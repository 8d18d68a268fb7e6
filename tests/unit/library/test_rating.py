"""Rejecting duplicates in tag mode (library/rating.py) on real files and a real journal:
xmp:Rating -1 merged into the sidecar, undo restoring the rating that was there, a rating the
user changed since left alone, and recovery after a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.images import write_jpeg
from xintud.core.hashing import sha256_file
from xintud.library.actor import Actor
from xintud.library.rating import Rater, is_rating_action, rating_of
from xintud.library.xmp import read_sidecar, sidecar_path, write_sidecar
from xintud.library.xmp_packet import parse_packet
from xintud.state.journal import Journal


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return write_jpeg(tmp_path / "Camera" / "IMG_0001-copy.jpg", seed=4)


def rating(photo: Path) -> int | None:
    sidecar = sidecar_path(photo)
    return rating_of(parse_packet(sidecar.read_bytes(), sidecar))


def test_reject_creates_a_sidecar_and_undo_removes_it(journal: Journal, photo: Path) -> None:
    actor = Actor(journal)
    before = photo.read_bytes()
    outcome = actor.reject(photo, sha256_file(photo))
    assert outcome.ok and outcome.action_id is not None
    assert rating(photo) == -1
    assert photo.read_bytes() == before, "the photo itself is never written"
    action = journal.get(outcome.action_id)
    assert action is not None and is_rating_action(action)
    undone = actor.undo(action)
    assert undone.ok, undone.message
    assert not sidecar_path(photo).exists(), "xintud created it, so undo removes it"


def test_reject_merges_into_a_tagged_sidecar_and_undo_puts_the_stars_back(
        journal: Journal, photo: Path) -> None:
    actor = Actor(journal)
    actor.tag(photo, "food", sha256_file(photo))
    sidecar = sidecar_path(photo)
    sidecar.write_text(sidecar.read_text().replace(
        "<rdf:Description ",
        '<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4" ', 1))
    outcome = actor.reject(photo, sha256_file(photo))
    assert rating(photo) == -1
    assert "food" in read_sidecar(sidecar).subjects, "the category keyword stays"
    assert actor.reject(photo, sha256_file(photo)).action_id is None, "already rejected"
    action = journal.get(outcome.action_id)  # type: ignore[arg-type]
    assert action is not None
    assert actor.undo(action).ok
    assert rating(photo) == 4
    assert "food" in read_sidecar(sidecar).subjects


def test_undo_leaves_a_rating_the_user_changed_since(journal: Journal, photo: Path) -> None:
    actor = Actor(journal)
    write_sidecar(photo, ["pets"], ["xintud|pets"])
    outcome = actor.reject(photo, sha256_file(photo))
    sidecar = sidecar_path(photo)
    sidecar.write_text(sidecar.read_text().replace('xmp:Rating="-1"', 'xmp:Rating="5"'))
    action = journal.get(outcome.action_id)  # type: ignore[arg-type]
    assert action is not None
    undone = actor.undo(action)
    assert undone.ok and "kept" in undone.message
    assert rating(photo) == 5


def test_reject_refuses_a_changed_photo_and_touches_nothing(
        journal: Journal, photo: Path) -> None:
    outcome = Actor(journal).reject(photo, "0" * 64)
    assert not outcome.ok and "changed since it was analysed" in outcome.message
    assert not sidecar_path(photo).exists()


def test_recovery_finishes_a_written_rejection_and_rolls_back_an_unwritten_one(
        journal: Journal, photo: Path, tmp_path: Path) -> None:
    digest = sha256_file(photo)
    sidecar = sidecar_path(photo)
    # A crash after the journal row and before the sidecar: nothing to finish.
    journal.begin("tag", digest, photo, sidecar, note="xmp:Rating before=none created=yes")
    # A crash after the sidecar was written, before the row was marked done.
    other = write_jpeg(tmp_path / "Camera" / "IMG_0002.jpg", seed=5)
    written = journal.begin("tag", sha256_file(other), other, sidecar_path(other),
                            note="xmp:Rating before=none created=yes")
    sidecar_path(other).write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="-1" rdf:about=""/>'
        '</rdf:RDF></x:xmpmeta>')
    lines = Actor(journal).recover()
    assert any("rolled back rejection" in line for line in lines), lines
    assert any("finished rejection" in line for line in lines), lines
    done = journal.get(written.id)
    assert done is not None and done.state == "done"
    assert Rater is not None
