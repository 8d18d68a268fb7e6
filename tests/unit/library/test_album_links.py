"""library.album_links on real folders: Albums/<name>/ holds relative links to the photos; a
folder the user renamed keeps its name; the user's own folders and files are never touched;
links follow photos that moved; an album that is gone leaves nothing of xintud's behind."""

from __future__ import annotations

import os
from pathlib import Path

from xintud.library.album_links import MARK, AlbumFolders, AlbumView


def photo(root: Path, relative: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(relative.encode())
    return path


def links(folder: Path) -> dict[str, str]:
    return {p.name: os.readlink(p) for p in folder.iterdir() if p.is_symlink()}


def test_album_folders_are_views_that_keep_the_users_changes(tmp_path: Path) -> None:
    root = tmp_path / "Xintu"
    a, b = photo(root, "Food/2026/07/a.jpg"), photo(root, "Travel/2026/07/a.jpg")
    c = photo(root, "Travel/2026/07/c.jpg")
    mine = root / "Albums" / "My wedding"
    mine.mkdir(parents=True)
    (mine / "speech.txt").write_text("mine")

    report = AlbumFolders(root).sync([AlbumView("id1", "2026-07-14 Kyoto — food", (a, b)),
                                       AlbumView("id2", "2026-07-15 Nara", (c,))])
    kyoto = report.folders["id1"]
    assert kyoto.name == "2026-07-14 Kyoto — food"
    assert links(kyoto) == {"a.jpg": "../../Food/2026/07/a.jpg",
                            "a (1).jpg": "../../Travel/2026/07/a.jpg"}
    assert all((kyoto / name).read_bytes() for name in links(kyoto)), "links resolve"
    assert (kyoto / MARK).read_text().splitlines() == ["id1", "2026-07-14 Kyoto — food"]

    renamed = kyoto.with_name("Our trip")
    kyoto.rename(renamed)
    (renamed / "notes.txt").write_text("the user's")
    moved = root / "Pets" / "a.jpg"
    moved.parent.mkdir()
    a.rename(moved)
    report = AlbumFolders(root).sync([AlbumView("id1", "2026-07-14 Kyoto — food",
                                                 (moved, b))])
    assert report.folders["id1"] == renamed, "the user's name for it is kept"
    assert links(renamed) == {"a.jpg": "../../Pets/a.jpg",
                              "a (1).jpg": "../../Travel/2026/07/a.jpg"}
    assert (renamed / "notes.txt").read_text() == "the user's"
    assert not (root / "Albums" / "2026-07-15 Nara").exists(), "an album gone, its folder too"
    assert (mine / "speech.txt").read_text() == "mine" and not links(mine)

    AlbumFolders(root).sync([])
    assert renamed.is_dir() and links(renamed) == {} and not (renamed / MARK).exists(), \
        "a folder holding the user's files stays, without xintud's links and mark"
    assert all(p.is_file() for p in (moved, b, c)), "no photo touched, ever"


def test_a_link_never_points_out_of_the_library(tmp_path: Path) -> None:
    root = tmp_path / "Xintu"
    root.mkdir()
    outside = photo(tmp_path, "elsewhere/x.jpg")
    report = AlbumFolders(root).sync([AlbumView("id3", "2026-01-01", (outside,))])
    assert links(report.folders["id3"]) == {}


def test_a_folder_xintud_named_follows_the_albums_name_one_the_user_named_does_not(
        tmp_path: Path) -> None:
    root = tmp_path / "Xintu"
    a, b, c = (photo(root, f"Travel/2026/07/{n}.jpg") for n in "abc")
    folders = AlbumFolders(root)
    kyoto = folders.show(AlbumView("trip", "2026-07-10 Kyoto — travel", (a,))).folders["trip"]
    grown = folders.show(AlbumView("trip", "2026-07-10 – 07-11 Kyoto — travel", (a, b)))
    assert grown.folders["trip"].name == "2026-07-10 – 07-11 Kyoto — travel"
    assert not kyoto.exists() and set(links(grown.folders["trip"])) == {"a.jpg", "b.jpg"}
    mine = grown.folders["trip"].with_name("Japan!")
    grown.folders["trip"].rename(mine)
    again = folders.show(AlbumView("trip", "2026-07-10 – 07-12 Kyoto — travel", (a, b, c)))
    assert again.folders["trip"] == mine and set(links(mine)) == {"a.jpg", "b.jpg", "c.jpg"}, \
        "renamed by the user: found by its mark, its name kept, its links brought up to date"
    taken = root / "Albums" / "2026-07-15 St. Gallen"
    taken.mkdir()
    other = folders.show(AlbumView("gallen", "2026-07-15 St. Gallen", (c,))).folders["gallen"]
    assert other.name == "2026-07-15 St. Gallen (1)", "a user's folder of that name is left"
    folders.drop("gallen")
    assert not other.exists() and taken.is_dir()


def test_updates_photo_by_photo_touch_only_the_links_that_changed(tmp_path: Path) -> None:
    """One AlbumFolders shown an album again and again (as the daemon does per photo filed)
    ends with the links a fresh sync makes: one per member, resolving, same-named photos
    apart, the user's file kept — and a link it did not make or change is not re-made."""
    import random

    root = tmp_path / "Xintu"
    pool = [photo(root, f"{folder}/{n}.jpg") for folder in ("Food", "Pets", "Other")
            for n in range(8)]
    folders = AlbumFolders(root)
    folder = folders.show(AlbumView("id1", "2026-07-14", tuple(pool[:3]))).folders["id1"]
    (folder / "9.jpg").write_text("the user's")
    user_file = photo(root, "Other/9.jpg")
    rng = random.Random(7)
    members = list(pool[:3])
    for _ in range(60):
        if members and rng.random() < 0.4:
            members.remove(rng.choice(members))
        else:
            members.append(rng.choice([p for p in [*pool, user_file] if p not in members]))
        kept = {n: os.lstat(folder / n).st_ino for n in links(folder)
                if Path(os.path.normpath(folder / links(folder)[n])) in members}
        folders.show(AlbumView("id1", "2026-07-14", tuple(members)))
        shown = {Path(os.path.normpath(folder / t)) for t in links(folder).values()}
        assert shown == set(members) - {user_file} or shown == set(members), \
            "a link per member, none for photos that left"
        assert len(links(folder)) == len(shown), "no member linked twice"
        assert all(os.lstat(folder / n).st_ino == ino for n, ino in kept.items()), \
            "links of photos that stayed are left alone"
        assert (folder / "9.jpg").read_text() == "the user's"
    fresh = AlbumFolders(root).sync([AlbumView("id1", "2026-07-14", tuple(members))])
    assert {Path(os.path.normpath(folder / t)) for t in links(fresh.folders["id1"]).values()} \
        == shown, "a sync from the folder agrees with the updates"
