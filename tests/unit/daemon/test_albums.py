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
                         lambda: groups)
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
