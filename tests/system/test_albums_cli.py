"""`xintud albums PATH...` on real photos with the EXIF times and GPS a phone writes: a dinner
at home and a day elsewhere become two named events; a photo without EXIF is dated by its
file time and says so; nothing is moved."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from tests.support.images import camera_exif, scene, textured_photo

pytestmark = pytest.mark.slow


def geotagged(path: Path, seed: int, taken: str, place: tuple[float, float]) -> None:
    exif = camera_exif(taken=taken)
    gps = exif.get_ifd(0x8825)
    for ref, value, tag_ref, tag in ((("N", "S"), place[0], 1, 2), (("E", "W"), place[1], 3, 4)):
        degrees = abs(value)
        whole, minutes = int(degrees), (degrees - int(degrees)) * 60
        gps[tag_ref] = ref[0] if value >= 0 else ref[1]
        gps[tag] = (float(whole), float(int(minutes)), round((minutes - int(minutes)) * 60, 2))
    exif.get_ifd(0x8769)[0x9011] = "+02:00"
    scene((320, 240), seed).save(path, "JPEG", quality=85, exif=exif.tobytes())


def test_two_days_two_named_events(tmp_path: Path) -> None:
    folder = tmp_path / "phone"
    folder.mkdir()
    for i in range(4):
        geotagged(folder / f"IMG_10{i}.jpg", i, f"2026:08:01 19:{10 * i:02d}:00",
                  (48.137, 11.575))
    for i in range(3):
        geotagged(folder / f"IMG_20{i}.jpg", 10 + i, f"2026:08:15 1{i}:00:00", (48.37, 10.898))
    Image.new("RGB", (200, 150), (90, 120, 40)).save(folder / "no-exif.png")
    before = sorted(p.name for p in folder.iterdir())
    done = subprocess.run([sys.executable, "-m", "xintud", "albums", "--json", str(folder)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    albums = [json.loads(line) for line in done.stdout.splitlines()]
    named = {a["name"].split(" — ")[0]: a for a in albums}
    assert named["2026-08-01 Munich"]["count"] == 4 and named["2026-08-01 Munich"]["kind"] == \
        "event"
    assert named["2026-08-15 Augsburg"]["count"] == 3
    assert named["2026-08-15 Augsburg"]["place"] == "Augsburg"
    assert Path(named["2026-08-15 Augsburg"]["cover"]).name.startswith("IMG_20")
    undated = next(a for a in albums if any(m.endswith("no-exif.png") for m in a["members"]))
    assert undated["dated_by_file_time"] == 1 and undated["place"] is None
    assert sum(a["count"] for a in albums) == 8
    assert sorted(p.name for p in folder.iterdir()) == before, "albums are views: nothing moved"




def test_a_week_abroad_is_one_trip_and_a_quiet_month_at_home_stays_apart(tmp_path: Path) -> None:
    """Real photos as a phone writes them: three quiet months at home (a photo every four
    days), a dinner there, then a week in Kyoto with a day in Nara — the week is one trip,
    the home photos events of their own."""
    folder = tmp_path / "phone"
    folder.mkdir()
    munich, kyoto, nara = (48.137, 11.575), (35.012, 135.768), (34.685, 135.805)
    quiet = [datetime(2026, 5, 1, 18) + timedelta(days=4 * n) for n in range(23)]  # to July
    for n, when in enumerate(quiet):
        geotagged(folder / f"HOME_{n:02d}.jpg", n, when.strftime("%Y:%m:%d %H:%M:%S"), munich)
    for i in range(4):
        geotagged(folder / f"DINNER_{i}.jpg", 40 + i, f"2026:06:20 20:{10 * i:02d}:00", munich)
    for day in range(7):
        for shot in range(3):
            geotagged(folder / f"TRIP_{day}{shot}.jpg", 50 + 3 * day + shot,
                      f"2026:08:{10 + day:02d} {10 + 3 * shot}:15:00",
                      nara if day == 3 else kyoto)
    done = subprocess.run([sys.executable, "-m", "xintud", "albums", "--json", str(folder)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    albums = [json.loads(line) for line in done.stdout.splitlines()]
    [trip] = [a for a in albums if a["kind"] == "trip"]
    assert trip["count"] == 21 and trip["name"].startswith("2026-08-10 – 08-16 Kyoto")
    assert trip["start"].startswith("2026-08-10T10:15") and trip["end"].startswith("2026-08-16")
    assert all(Path(m).name.startswith("TRIP_") for m in trip["members"])
    home = [a for a in albums if a["kind"] == "event"]
    assert len(home) == 24 and all(a["place"] == "Munich" for a in home)
    [dinner] = [a for a in home if a["count"] == 4]
    assert dinner["name"].startswith("2026-06-20 Munich")

def test_the_cover_is_the_best_shot_of_its_duplicates(tmp_path: Path) -> None:
    """An album holding a photo and a chat app's copy of it (smaller, sharpened, re-encoded,
    EXIF kept — its quality score is the album's highest): its cover is the one `xintud
    dupes` calls the best, the original."""
    folder = tmp_path / "phone"
    folder.mkdir()
    for i in range(3):
        exif = camera_exif(taken=f"2026:08:01 19:{10 * i:02d}:00").tobytes()
        photo = textured_photo(40 + i)
        photo.save(folder / f"IMG_50{i}.jpg", quality=92, exif=exif)
        if i == 1:
            photo.resize((480, 360)).filter(ImageFilter.SHARPEN).save(
                folder / "IMG_501-chat.jpg", quality=60, exif=exif)

    def run(*command: str) -> list[dict]:
        done = subprocess.run([sys.executable, "-m", "xintud", *command, "--json", str(folder)],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    [group] = run("dupes")
    assert Path(group["best"]).name == "IMG_501.jpg", group
    [album] = run("albums")
    assert album["count"] == 4 and album["cover"] == group["best"]

def test_the_daemon_keeps_albums_of_links_in_the_library(tmp_path: Path) -> None:
    from tests.support.daemon_tree import DaemonTree, wait_for

    tree = DaemonTree(tmp_path)
    tree.write_config()  # albums are on by default
    daemon = tree.start()
    try:
        for i in range(3):
            geotagged(tree.camera / f"IMG_30{i}.jpg", 20 + i, f"2026:08:01 19:{10 * i:02d}:00",
                      (48.137, 11.575))
        albums_dir = tree.library / "Albums"

        def folders() -> list[Path]:
            return [p for p in albums_dir.iterdir() if p.is_dir()] if albums_dir.is_dir() else []

        wait_for(lambda: folders() and len([p for p in folders()[0].iterdir()
                                            if p.is_symlink()]) == 3,
                 timeout=60, what="the album folder with its three links")
        [folder] = folders()
        assert folder.name.startswith("2026-08-01 Munich")
        targets = sorted(p.resolve() for p in folder.iterdir() if p.is_symlink())
        assert targets == sorted(p.resolve() for p in tree.library_files()
                                 if "Albums" not in p.parts)
        listed = tree.ctl("--json", "albums")
        assert listed.returncode == 0, listed.stderr
        [album] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert album["count"] == 3 and album["place"] == "Munich"
        assert tree.status()["learning"]["corrections"] == 0, "links are no corrections"

        ours = folder.with_name("Dinner at home")
        folder.rename(ours)
        geotagged(tree.camera / "IMG_303.jpg", 23, "2026:08:01 19:45:00", (48.137, 11.575))
        geotagged(tree.camera / "IMG_400.jpg", 24, "2026:08:02 11:00:00", (48.137, 11.575))

        def linked(where: Path) -> list[str]:
            return sorted(p.name for p in where.iterdir() if p.is_symlink()) \
                if where.is_dir() else []

        wait_for(lambda: len(linked(ours)) == 4 and len(folders()) == 2, timeout=60,
                 what="the late photo in the renamed folder, the next day's in a new one")
        assert linked(ours) == ["IMG_300.jpg", "IMG_301.jpg", "IMG_302.jpg", "IMG_303.jpg"]
        [next_day] = [f for f in folders() if f != ours]
        assert next_day.name == "2026-08-02 Munich — " + next_day.name.split(" — ")[1]
    finally:
        assert tree.stop(daemon) == 0
    daemon = tree.start()
    try:
        geotagged(tree.camera / "IMG_304.jpg", 25, "2026:08:01 19:50:00", (48.137, 11.575))
        wait_for(lambda: len(linked(ours)) == 5, timeout=60,
                 what="after a restart, the renamed folder still the dinner's, growing")
        assert sorted(f.name for f in folders()) == sorted(["Dinner at home", next_day.name])
    finally:
        assert tree.stop(daemon) == 0


def test_the_daemon_keeps_albums_as_keywords_in_tag_mode(tmp_path: Path) -> None:
    import sqlite3

    from tests.support.daemon_tree import DaemonTree, wait_for
    from xintud.library.xmp import read_sidecar, sidecar_path

    tree = DaemonTree(tmp_path)
    tree.write_config()
    tree.config.write_text(tree.config.read_text().replace('action = "move"', 'action = "tag"'))
    photos = [tree.camera / f"IMG_30{i}.jpg" for i in range(3)]
    for i, photo in enumerate(photos):
        # In place before the start: one scan, one batch, so the albums' rows come last.
        geotagged(photo, 20 + i, f"2026:08:01 19:{10 * i:02d}:00", (48.137, 11.575))
    originals = [p.read_bytes() for p in photos]

    def keywords(photo: Path) -> tuple[str, ...]:
        try:
            return read_sidecar(sidecar_path(photo)).hierarchical
        except (OSError, ValueError):
            return ()

    def events(photo: Path) -> list[str]:
        return [k for k in keywords(photo) if k.startswith("Events|")]

    def rows() -> list[tuple[str, str]]:
        with sqlite3.connect(tree.base / "xdg-state" / "xintud" / "state.db") as db:
            return db.execute("SELECT state, note FROM actions WHERE kind = 'tag' "
                              "ORDER BY finished_at DESC, id DESC").fetchall()

    daemon = tree.start()
    try:
        wait_for(lambda: all(len(events(p)) == 1 for p in photos), timeout=60,
                 what="an Events keyword in each photo's sidecar")
        [name] = {events(p)[0] for p in photos}
        assert name.startswith("Events|2026-08-01 Munich"), name
        assert all(any(k.startswith("xintud|") for k in keywords(p)) for p in photos), \
            "the category stays beside the album"
        listed = tree.ctl("--json", "albums")
        assert listed.returncode == 0, listed.stderr
        [album] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert album["count"] == 3 and f"Events|{album['name']}" == name
        assert sorted(album["members"]) == sorted(str(p) for p in photos)
    finally:
        assert tree.stop(daemon) == 0
    assert not (tree.library / "Albums").exists(), "tag mode makes no folders"
    assert [p.read_bytes() for p in photos] == originals, "only the sidecars change"
    written = {p: sidecar_path(p).stat().st_mtime_ns for p in photos}
    journaled = rows()

    daemon = tree.start()
    try:
        wait_for(lambda: "as keywords in the sidecars" in tree.logs(), timeout=60,
                 what="the albums read back at the restart")
        assert rows() == journaled and \
            {p: sidecar_path(p).stat().st_mtime_ns for p in photos} == written, \
            "a restart rewrites no sidecar"
        ours = [note for _state, note in journaled if note.startswith("Events ")]
        assert len(ours) == 3, journaled
        assert all(note.startswith("Events ") for _state, note in journaled[:3]), journaled
        undo = tree.ctl("undo", "3")
        assert undo.returncode == 0, undo.stderr + undo.stdout
        assert all(events(p) == [] for p in photos), [keywords(p) for p in photos]
        assert all(any(k.startswith("xintud|") for k in keywords(p)) for p in photos), \
            "undoing the album leaves the category"
        assert sum(tree.status()["per_category"].values()) == 3, "the photos stay filed"
        time.sleep(1.5)
        assert all(events(p) == [] for p in photos), "an undone album keyword is not rewritten"
    finally:
        assert tree.stop(daemon) == 0
