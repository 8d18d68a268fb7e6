"""Album keywords in tag mode (library/event_tags.py) on real files and a real journal:
``Events|<album>`` merged into the sidecar the category tag made, replaced when the album is
renamed, a keyword of the user's own never taken, undo and crash recovery — read back by
xintud's reader and, when it is installed, by exiftool."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.images import write_jpeg
from xintud.core.hashing import sha256_file
from xintud.library.actor import Actor
from xintud.library.event_tags import (
    EVENT_NOTE,
    EventNote,
    albums_written,
    is_event_action,
)
from xintud.library.xmp import read_sidecar, sidecar_path
from xintud.state.journal import Journal

DINNER = "2026-08-01 Munich — dinner"
TRIP = "2026-08-01 – 08-02 Munich"


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return write_jpeg(tmp_path / "Camera" / "IMG_0001.jpg", seed=3)


def events(photo: Path) -> list[str]:
    return [h for h in read_sidecar(sidecar_path(photo)).hierarchical if h.startswith("Events|")]


def test_the_album_joins_the_category_and_a_rename_replaces_it(journal: Journal,
                                                               photo: Path) -> None:
    actor, digest, before = Actor(journal), sha256_file(photo), photo.read_bytes()
    assert actor.tag(photo, "food", digest).ok
    first = actor.tag_event(photo, digest, DINNER)
    assert first is not None and first.ok and first.action_id is not None
    info = read_sidecar(sidecar_path(photo))
    assert set(info.hierarchical) == {"xintud|food", f"Events|{DINNER}"}
    assert set(info.subjects) == {"food", DINNER}, "the leaf too, as for a category"
    assert info.mark is not None and info.mark.hierarchical == ("xintud|food",), \
        "the category's mark is left as it is"
    assert actor.tag_event(photo, digest, DINNER) is None, "written once, not again"

    renamed = actor.tag_event(photo, digest, TRIP)
    assert renamed is not None and renamed.ok
    assert events(photo) == [f"Events|{TRIP}"]
    assert set(read_sidecar(sidecar_path(photo)).subjects) == {"food", TRIP}
    rows = [a for a in journal.noted("tag", EVENT_NOTE)]
    assert [a.id for a in rows] == [first.action_id, renamed.action_id], "a row per change"
    note = EventNote.parse(rows[1].note)
    assert note is not None and note.removed.hierarchical == (f"Events|{DINNER}",)
    assert albums_written(journal) == {digest: TRIP}
    assert photo.read_bytes() == before, "the photo itself is never written"


def test_an_events_keyword_of_the_users_stays_through_renames_and_undo(
        journal: Journal, photo: Path) -> None:
    actor, digest = Actor(journal), sha256_file(photo)
    sidecar = sidecar_path(photo)
    sidecar.write_text(f"""<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
  xmp:Label="Red">
<dc:subject><rdf:Bag><rdf:li>Oma</rdf:li><rdf:li>{DINNER}</rdf:li></rdf:Bag></dc:subject>
<lr:hierarchicalSubject><rdf:Bag><rdf:li>People|Oma</rdf:li><rdf:li>Events|{DINNER}</rdf:li>
<rdf:li>Events|Oma's birthday</rdf:li></rdf:Bag></lr:hierarchicalSubject>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>""")
    assert actor.tag_event(photo, digest, DINNER) is None, "the user's says it already"
    renamed = actor.tag_event(photo, digest, TRIP)
    assert renamed is not None and renamed.ok
    assert events(photo) == [f"Events|{DINNER}", "Events|Oma's birthday", f"Events|{TRIP}"], \
        "the user's own Events keywords, even the one naming xintud's album, stay"
    gone = actor.tag_event(photo, digest, None)
    assert gone is not None and gone.ok
    assert events(photo) == [f"Events|{DINNER}", "Events|Oma's birthday"]
    action = journal.get(gone.action_id or 0)
    assert action is not None and is_event_action(action)
    assert not actor.undo(journal.get(renamed.action_id or 0)).ok, "a later change first"
    text = sidecar.read_text()
    assert 'xmp:Label="Red"' in text and "People|Oma" in text


def test_undo_takes_out_only_what_xintud_added(journal: Journal, photo: Path) -> None:
    actor, digest = Actor(journal), sha256_file(photo)
    assert actor.tag(photo, "food", digest).ok
    added = actor.tag_event(photo, digest, DINNER)
    assert added is not None and added.action_id is not None
    sidecar = sidecar_path(photo)
    # The user adds a keyword of their own in digiKam meanwhile.
    sidecar.write_text(sidecar.read_text().replace(
        "<rdf:li>food</rdf:li>", "<rdf:li>food</rdf:li><rdf:li>Oma</rdf:li>", 1))
    [latest] = journal.done_actions(limit=1)
    assert latest.id == added.action_id
    undone = actor.undo(latest)
    assert undone.ok, undone.message
    info = read_sidecar(sidecar)
    assert set(info.subjects) == {"food", "Oma"} and info.hierarchical == ("xintud|food",)
    assert journal.get(added.action_id).state == "undone"  # type: ignore[union-attr]
    assert albums_written(journal) == {digest: DINNER}, "an undo is not written again"
    [category] = journal.done_actions(limit=1)
    assert actor.undo(category).ok
    assert read_sidecar(sidecar).subjects == ("Oma",), "the user's keyword outlives both"


def test_undo_removes_a_sidecar_only_xintud_wrote(journal: Journal, photo: Path) -> None:
    actor, digest = Actor(journal), sha256_file(photo)
    outcome = actor.tag_event(photo, digest, DINNER)
    assert outcome is not None and outcome.ok
    assert actor.undo(journal.get(outcome.action_id or 0)).ok
    assert not sidecar_path(photo).exists()


def test_recovery_finishes_a_written_change_and_rolls_back_an_unwritten_one(
        journal: Journal, tmp_path: Path, photo: Path) -> None:
    actor, digest = Actor(journal), sha256_file(photo)
    assert actor.tag(photo, "food", digest).ok
    written = actor.tag_event(photo, digest, DINNER)
    assert written is not None and written.action_id is not None
    other = write_jpeg(tmp_path / "Camera" / "IMG_0002.jpg", seed=4)
    note = EventNote.parse(journal.get(written.action_id).note)  # type: ignore[union-attr]
    assert note is not None
    # A crash after the row and before the sidecar (of a photo with none yet) …
    unwritten = journal.begin("tag", sha256_file(other), other, sidecar_path(other),
                              note=note.render())
    # … and one after the sidecar was in place, before the row was marked done.
    again = journal.begin("tag", digest, photo, sidecar_path(photo), note=note.render())
    lines = actor.recover()
    assert journal.get(unwritten.id).state == "rolled_back"  # type: ignore[union-attr]
    assert journal.get(again.id).state == "done", lines  # type: ignore[union-attr]
    assert not sidecar_path(other).exists()


def test_exiftool_reads_the_album(journal: Journal, photo: Path) -> None:
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    actor, digest = Actor(journal), sha256_file(photo)
    assert actor.tag(photo, "food", digest).ok
    assert actor.tag_event(photo, digest, DINNER) is not None
    done = subprocess.run(["exiftool", "-j", "-XMP-lr:HierarchicalSubject", "-XMP-dc:Subject",
                           str(sidecar_path(photo))], capture_output=True, text=True,
                          check=True, timeout=60)
    [tags] = json.loads(done.stdout)
    assert sorted(tags["HierarchicalSubject"]) == [f"Events|{DINNER}", "xintud|food"]
    assert sorted(tags["Subject"]) == sorted([DINNER, "food"])
