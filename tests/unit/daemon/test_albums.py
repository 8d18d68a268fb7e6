"""daemon.albums: the keeper updates a folder at once for a lone photo, once a second for a
backlog pouring into it, and shows every photo filed before it stops."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from xintud.config.load import validate_config
from xintud.core.facts import Analysis, Evidence, MetadataCues, Quality
from xintud.daemon import albums
from xintud.daemon.albums import AlbumKeeper
from xintud.duplicates.report import GroupReport, MemberReport
from xintud.state.db import open_state_db
from xintud.state.records import Records


def filed(library: Path, n: int) -> tuple[Analysis, Path]:
    """A photo filed in the library, taken at a dinner (model_construct: only the fields
    albums read)."""
    path = library / "Food" / f"IMG_{n:03d}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"photo %d" % n)
    meta = MetadataCues.model_construct(taken_at=f"2026-08-01T19:{n:02d}:00", gps=None)
    analysis = Analysis.model_construct(
        category="food", sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        evidence=Evidence.model_construct(metadata=meta),
        quality=Quality.model_construct(score=0.5))
    return analysis, path


def linked(library: Path) -> list[str]:
    return sorted(p.name for folder in (library / "Albums").iterdir() if folder.is_dir()
                  for p in folder.iterdir() if p.is_symlink())


def test_a_backlog_updates_the_folder_once_a_second_and_all_of_it_at_stop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "Library"
    library.mkdir()
    config = validate_config({"watch": [{"path": str(tmp_path / "Camera")}],
                              "library": {"root": str(library)}})
    keeper = AlbumKeeper(Records(open_state_db(tmp_path / "state.db")), lambda: config)
    keeper.step()  # the start: an empty timeline
    monkeypatch.setattr(albums, "FOLDERS_EVERY_SECONDS", 3600.0)

    keeper.add(*filed(library, 0))
    assert linked(library) == ["IMG_000.jpg"], "a lone photo is shown at once"
    for n in range(1, 4):
        keeper.add(*filed(library, n))
    assert linked(library) == ["IMG_000.jpg"], "amid a backlog, within the interval: not yet"
    assert [a["count"] for a in keeper.report()] == [4], "the albums listed are up to date"
    monkeypatch.setattr(albums, "FOLDERS_EVERY_SECONDS", 0.0)
    deadline = keeper.next_deadline()
    assert deadline is not None and deadline <= time.monotonic(), "the loop wakes to show them"
    keeper.step()
    assert linked(library) == [f"IMG_{n:03d}.jpg" for n in range(4)]

    monkeypatch.setattr(albums, "FOLDERS_EVERY_SECONDS", 3600.0)
    for n in range(4, 6):
        keeper.add(*filed(library, n))
    assert len(linked(library)) == 4
    keeper.stop()
    assert linked(library) == [f"IMG_{n:03d}.jpg" for n in range(6)], \
        "every photo filed before the stop is in its folder"


def test_the_listed_cover_passes_over_what_duplicates_did_not_call_best(tmp_path: Path) -> None:
    library = tmp_path / "Library"
    library.mkdir()
    config = validate_config({"watch": [{"path": str(tmp_path / "Camera")}],
                              "library": {"root": str(library)}})
    groups: list[GroupReport] = []
    keeper = AlbumKeeper(Records(open_state_db(tmp_path / "state.db")), lambda: config,
                         duplicates=lambda: groups)
    keeper.step()
    photos = [filed(library, n) for n in range(3)]
    photos[2][0].quality.score = 0.9  # a sharpened copy: the best score of the album
    for analysis, path in photos:
        keeper.add(analysis, path)
    assert [a["cover"] for a in keeper.report()] == [str(photos[2][1])]
    # duplicates name another photo of its group the best shot
    groups.append(GroupReport.model_construct(
        group="g1", tier="same", best=str(photos[0][1]),
        members=[MemberReport.model_construct(path=str(photos[n][1])) for n in (0, 2)]))
    assert [a["cover"] for a in keeper.report()] == [str(photos[0][1])]


def test_in_tag_mode_the_albums_are_keywords_and_a_rename_replaces_xintuds_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import threading
    from dataclasses import replace

    from xintud.library.actor import Actor
    from xintud.library.event_tags import EVENT_NOTE
    from xintud.library.xmp import read_sidecar, sidecar_path, write_sidecar
    from xintud.state.journal import Journal
    from xintud.state.records import FileRecord, FileState

    camera = tmp_path / "Camera"
    config = validate_config({"watch": [{"path": str(camera)}],
                              "library": {"root": str(tmp_path / "Library"), "action": "tag"}})
    conn = open_state_db(tmp_path / "state.db")
    records, journal = Records(conn), Journal(conn)
    monkeypatch.setattr(albums, "CHECK_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(albums, "FOLDERS_EVERY_SECONDS", 0.0)

    def photo(n: int, taken: str) -> tuple[Analysis, Path]:
        path = camera / f"IMG_{n:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"photo %d" % n)
        analysis = Analysis.model_construct(
            category="food", sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            evidence=Evidence.model_construct(metadata=MetadataCues.model_construct(
                taken_at=taken, gps=None)),
            quality=Quality.model_construct(score=0.5))
        records.upsert(FileRecord(sha256=analysis.sha256, path=path, state=FileState.DONE,
                                  category="food", result_json=json.dumps(
                                      {"category": "food",
                                       "evidence": {"metadata": {"taken_at": taken}}})))
        return analysis, path

    def events(path: Path) -> list[str]:
        return [k for k in read_sidecar(sidecar_path(path)).hierarchical
                if k.startswith("Events|")]

    def keeper() -> AlbumKeeper:
        return AlbumKeeper(records, lambda: config, Actor(journal), threading.Lock())

    dinner = [photo(n, f"2026-08-01T23:{10 * n:02d}:00") for n in range(3)]
    write_sidecar(dinner[0][1], [], ["Events|Oma's birthday"])  # the user's own keyword
    first = keeper()
    first.step()  # the start: the records' photos get their album
    assert [events(p) for _a, p in dinner] == [
        ["Events|Oma's birthday", "Events|2026-08-01 — food"],
        ["Events|2026-08-01 — food"], ["Events|2026-08-01 — food"]]
    assert not (tmp_path / "Library").exists(), "no folders in tag mode"

    late = photo(9, "2026-08-02T00:30:00")
    first.add(*late)
    first.step()
    renamed = "Events|2026-08-01 – 08-02 — food"
    assert [events(p) for _a, p in [*dinner, late]] == [
        ["Events|Oma's birthday", renamed], [renamed], [renamed], [renamed]]
    assert [a["name"] for a in first.report()] == ["2026-08-01 – 08-02 — food"]
    journaled = len(journal.noted("tag", EVENT_NOTE))
    assert journaled == 3 + 4, "one row per sidecar changed"

    again = keeper()
    again.step()  # a restart: the names written are read from the journal
    assert len(journal.noted("tag", EVENT_NOTE)) == journaled, "no sidecar rewritten"

    taken_back = records.get(late[0].sha256)
    assert taken_back is not None
    records.upsert(replace(taken_back, state=FileState.UNDONE), allow_refile=True)
    again.add(*photo(20, "2026-09-01T12:00:00"))  # the records are followed after a photo
    again.step()  # following the records: the photo taken back leaves its album …
    again.step()  # … and its album's new name is written at the next step
    assert events(late[1]) == []
    assert [events(p) for _a, p in dinner] == [
        ["Events|Oma's birthday", "Events|2026-08-01 — food"],
        ["Events|2026-08-01 — food"], ["Events|2026-08-01 — food"]]
    conn.close()
