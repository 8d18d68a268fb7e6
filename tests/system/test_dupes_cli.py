"""`xintud dupes PATH...` as a user runs it, with the real models: a photo, its copies and an
unrelated photo in a folder; JSON Lines with one group, the original as the best shot; `--all`;
a broken file is reported by name and the rest still grouped."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.images import camera_exif, textured_photo

pytestmark = pytest.mark.slow


def xintud(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xintud", *args], capture_output=True,
                          text=True, timeout=300)


def test_dupes_groups_copies_and_names_the_original_best(tmp_path: Path) -> None:
    folder = tmp_path / "Pictures"
    folder.mkdir()
    original = textured_photo(7)
    original.save(folder / "IMG_0007.jpg", quality=93,
                  exif=camera_exif(taken="2026:05:01 09:00:00").tobytes())
    small = io.BytesIO()
    original.resize((480, 360)).save(small, "JPEG", quality=60)
    (folder / "IMG_0007-small.jpg").write_bytes(small.getvalue())
    original.crop((40, 30, 1160, 870)).save(folder / "IMG_0007-crop.jpg", quality=85)
    textured_photo(70).save(folder / "IMG_0070.jpg", quality=90)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a photo")

    for line in (["dupes", "--json", str(folder)], ["--json", "dupes", str(folder)]):
        done = xintud(*line)
        assert done.returncode == 1, done.stderr  # the broken file
        rows = [json.loads(text) for text in done.stdout.splitlines()]
        groups = [row for row in rows if "group" in row]
        errors = [row for row in rows if "error" in row]
        assert len(groups) == 1, rows
        group = groups[0]
        assert group["tier"] == "same"
        assert sorted(Path(m["path"]).name for m in group["members"]) == [
            "IMG_0007-crop.jpg", "IMG_0007-small.jpg", "IMG_0007.jpg"]
        assert Path(group["best"]).name == "IMG_0007.jpg"
        assert all(m["reasons"] for m in group["members"] if m["path"] != group["best"])
        assert "quality" in group["members"][0] and group["why"]
        assert len(errors) == 1 and "broken.jpg" in errors[0]["error"]

    everything = xintud("dupes", "--json", "--all", str(folder))
    singles = [json.loads(t) for t in everything.stdout.splitlines()]
    assert any(row.get("group", "") is None and Path(row["best"]).name == "IMG_0070.jpg"
               for row in singles)
    plain = xintud("dupes", str(folder))
    assert "same picture  3 photos" in plain.stdout
    assert "* " + str(folder / "IMG_0007.jpg") in plain.stdout
    assert "broken.jpg" in plain.stderr
