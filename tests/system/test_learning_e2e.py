"""Learning from the user in the running daemon: a photo moved by hand from one category folder
to another is a correction (followed, never moved back); a refit follows; a look-alike that
arrives next is filed in the user's category, saying why; rollback returns to the shipped
models; refile --dry-run shows and refile moves what the model in use would file elsewhere,
undo puts it back; `xintuctl correct` moves a photo and learns; bad input changes nothing."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.support.daemon_tree import DaemonTree, sha256, wait_for
from tests.support.images import textured_photo

pytestmark = pytest.mark.slow


def look_alike(image: Image.Image, scale: float, quality: int) -> bytes:
    """The same picture re-saved smaller (a chat app's copy): it looks like the original."""
    size = (int(image.width * scale), int(image.height * scale))
    out = io.BytesIO()
    image.resize(size, Image.Resampling.BILINEAR).save(out, "JPEG", quality=quality)
    return out.getvalue()


def explain(tree: DaemonTree, path: Path) -> dict:
    done = tree.ctl("--json", "explain", str(path))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def versions(tree: DaemonTree) -> list[dict]:
    done = tree.ctl("--json", "model")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def folder_of(tree: DaemonTree, path: Path) -> str:
    return path.relative_to(tree.library).parts[0]


def filed_named(tree: DaemonTree, name: str) -> Path | None:
    return next((p for p in tree.library_files() if p.name == name), None)


@pytest.fixture
def tree(tmp_path: Path) -> DaemonTree:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    tree.config.write_text(tree.config.read_text() + "\n[learning]\nrefit_after_seconds = 0.5\n")
    return tree


def test_a_move_by_hand_teaches_the_daemon_and_refile_follows(tree: DaemonTree) -> None:
    daemon = tree.start()
    try:
        original = textured_photo(3)
        original.save(tree.camera / "IMG_0001.jpg", quality=92)
        filed = wait_for(lambda: filed_named(tree, "IMG_0001.jpg"), what="the photo filed")
        assert isinstance(filed, Path)
        shipped_folder = folder_of(tree, filed)
        assert tree.status()["learning"] == {"corrections": 0, "in_use": "shipped"}, \
            "xintud's own filing is no correction"
        target, folder = ("food", "Food") if shipped_folder == "Pets" else ("pets", "Pets")

        moved = tree.library / folder / "2026" / "11" / filed.name
        moved.parent.mkdir(parents=True)
        os.rename(filed, moved)  # what `mv` and a file manager do
        wait_for(lambda: explain(tree, moved)["category"] == target, what="the correction")
        assert "moved by you" in explain(tree, moved)["action"]
        wait_for(lambda: tree.status()["learning"]["in_use"] == "v0001", what="the refit")
        [version] = versions(tree)
        assert version["in_use"] and version["examples"] == 1
        assert version["per_category"] == {target: 1}
        assert str(tree.status()["model"]).endswith("+v0001")
        assert moved.is_file() and len(tree.library_files()) == 1, "never moved back"

        (tree.camera / "IMG_0002.jpg").write_bytes(look_alike(original, 0.8, 85))
        copy = wait_for(lambda: filed_named(tree, "IMG_0002.jpg"), what="the look-alike filed")
        assert isinstance(copy, Path)
        assert folder_of(tree, copy) == folder, tree.tail()
        result = explain(tree, copy)
        assert result["model"].endswith("+v0001")
        assert any(rule.startswith(f"looks like a photo you filed as {target}")
                   for rule in result["evidence"]["rules"]), result["evidence"]["rules"]

        back = tree.ctl("model", "rollback")
        assert back.returncode == 0 and "now using shipped" in back.stdout, back.stderr
        (tree.camera / "IMG_0003.jpg").write_bytes(look_alike(original, 0.7, 80))
        third = wait_for(lambda: filed_named(tree, "IMG_0003.jpg"), what="the third filed")
        assert isinstance(third, Path)
        assert folder_of(tree, third) == shipped_folder, "the shipped models answer alone"

        assert tree.ctl("model", "rollback", "v0001").returncode == 0
        before = sha256(third)
        dry = tree.ctl("--json", "refile", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        items = [json.loads(line) for line in dry.stdout.splitlines()]
        assert [Path(i["path"]).name for i in items] == ["IMG_0003.jpg"], items
        assert items[0]["to"] == target and items[0]["why"]
        assert third.is_file(), "a dry run moves nothing"
        assert copy.is_file() and moved.is_file(), "photos already in place are not listed"

        done = tree.ctl("refile")
        assert done.returncode == 0, done.stderr
        refiled = wait_for(lambda: filed_named(tree, "IMG_0003.jpg"), what="refiled")
        assert isinstance(refiled, Path)
        assert folder_of(tree, refiled) == folder and sha256(refiled) == before
        assert explain(tree, refiled)["category"] == target

        assert tree.ctl("undo").returncode == 0
        assert third.is_file() and not refiled.exists()
        assert explain(tree, third)["category"] != target, "undo files it back as it was"
        assert explain(tree, third)["state"] == "done"
    finally:
        assert tree.stop(daemon) == 0


def test_correct_moves_and_learns_and_bad_input_changes_nothing(tree: DaemonTree) -> None:
    daemon = tree.start()
    try:
        textured_photo(11).save(tree.camera / "IMG_0100.jpg", quality=92)
        filed = wait_for(lambda: filed_named(tree, "IMG_0100.jpg"), what="the photo filed")
        assert isinstance(filed, Path)
        target, folder = (("other", "Other") if folder_of(tree, filed) != "Other"
                          else ("food", "Food"))
        stray = tree.base / "not-filed.jpg"
        textured_photo(12).save(stray, quality=90)
        text = tree.base / "notes.txt"
        text.write_text("not a photo")
        for args, words in [((str(filed), "cats"), "unknown category 'cats'"),
                            ((str(stray), target), "xintud has not filed this photo"),
                            ((str(text), target), "xintud has not filed this photo"),
                            ((str(tree.base / "gone.jpg"), target), "is not a file")]:
            refused = tree.ctl("correct", *args)
            assert refused.returncode == 1 and words in refused.stderr, refused.stderr
        assert filed.is_file() and tree.status()["learning"]["corrections"] == 0

        done = tree.ctl("--json", "correct", str(filed), target)
        assert done.returncode == 0, done.stderr
        now = Path(json.loads(done.stdout)["path"])
        assert folder_of(tree, now) == folder and now.is_file() and not filed.exists()
        assert tree.status()["learning"]["corrections"] == 1
        wait_for(lambda: tree.status()["learning"]["in_use"] == "v0001", what="the refit")

        undo = tree.ctl("undo")
        assert undo.returncode == 0, undo.stderr
        assert filed.is_file() and not now.exists()
        assert tree.status()["learning"]["corrections"] == 0, "an undone correction is forgotten"
        wait_for(lambda: len(versions(tree)) == 2, what="the refit after the undo")

        out = tree.base / "elsewhere"
        out.mkdir()
        shutil.move(str(filed), out / filed.name)  # out of the library: not a correction
        review = tree.library / "_Review" / "mine"
        review.mkdir(parents=True)
        textured_photo(13).save(tree.camera / "IMG_0101.jpg", quality=92)
        second = wait_for(lambda: filed_named(tree, "IMG_0101.jpg"), what="the second filed")
        assert isinstance(second, Path)
        os.rename(second, review / second.name)  # into the review folder: not a correction
        wait_for(lambda: explain(tree, review / second.name)["dest"] == str(
            review / second.name), what="the record following the photo")
        assert tree.status()["learning"]["corrections"] == 0
    finally:
        assert tree.stop(daemon) == 0


def test_a_move_made_while_the_daemon_was_stopped_is_read_at_the_next_start(
        tree: DaemonTree) -> None:
    daemon = tree.start()
    textured_photo(21).save(tree.camera / "IMG_0200.jpg", quality=92)
    filed = wait_for(lambda: filed_named(tree, "IMG_0200.jpg"), what="the photo filed")
    assert isinstance(filed, Path)
    assert tree.stop(daemon) == 0
    target, folder = ("travel", "Travel") if folder_of(tree, filed) != "Travel" else (
        "food", "Food")
    moved = tree.library / folder / filed.name
    moved.parent.mkdir(parents=True, exist_ok=True)
    os.rename(filed, moved)
    daemon = tree.start()
    try:
        wait_for(lambda: explain(tree, moved)["category"] == target,
                 what="the correction made while stopped")
        assert tree.status()["learning"]["corrections"] == 1
        assert moved.is_file() and len(tree.library_files()) == 1
    finally:
        assert tree.stop(daemon) == 0


def test_a_category_of_ones_own_taught_from_a_folder_and_forgotten(tree: DaemonTree) -> None:
    daemon = tree.start()
    try:
        originals = {seed: textured_photo(seed) for seed in range(30, 36)}
        for seed, image in originals.items():
            image.save(tree.camera / f"R_{seed}.jpg", quality=92)
        wait_for(lambda: len(tree.library_files()) == 6, what="six photos filed")
        mine = tree.library / "Receipts"
        mine.mkdir()
        for path in tree.library_files():
            os.rename(path, mine / path.name)  # the user gathers them in a folder of their own
        wait_for(lambda: all(explain(tree, mine / f"R_{s}.jpg")["dest"] == str(
            mine / f"R_{s}.jpg") for s in originals), what="the records following")
        assert tree.status()["learning"]["corrections"] == 0, "a folder of no category"

        offers = tree.ctl("--json", "teach", "--from-folder")
        assert offers.returncode == 0, offers.stderr
        [offer] = [json.loads(line) for line in offers.stdout.splitlines()]
        assert (offer["name"], offer["photos"], offer["folder"]) == ("receipts", 6, str(mine))

        for args, words in [(("receipts", str(mine / "R_30.jpg")), "at least 5 example"),
                            (("fod", str(mine)), "very like the category 'food'"),
                            (("Receipts", str(mine)), "cannot be a category name"),
                            (("receipts", str(tree.base)), "outside the library")]:
            refused = tree.ctl("teach", *args)
            assert refused.returncode == 1 and words in refused.stderr, refused.stderr
        assert versions(tree) == [], "bad input taught nothing"

        taught = tree.ctl("--json", "teach", "receipts", str(mine))
        assert taught.returncode == 0, taught.stderr
        result = json.loads(taught.stdout)
        assert result["examples"] == 6 and result["in_use"] == "v0001"
        assert "categories of your own: receipts" in result["info"]["note"]
        assert explain(tree, mine / "R_30.jpg")["category"] == "receipts"

        (tree.camera / "IMG_0300.jpg").write_bytes(look_alike(originals[31], 0.8, 85))
        new = wait_for(lambda: filed_named(tree, "IMG_0300.jpg"), what="a new receipt filed")
        assert isinstance(new, Path)
        assert folder_of(tree, new) == "Receipts", tree.tail()
        assert explain(tree, new)["category"] == "receipts"
        assert tree.status()["per_category"]["receipts"] >= 1
        dry = tree.ctl("--json", "refile", "--dry-run")
        assert dry.returncode == 0 and dry.stdout.strip() == "", dry.stdout

        gone = tree.ctl("forget", "receipts")
        assert gone.returncode == 0 and "its photos stay where they are" in gone.stdout
        assert all((mine / f"R_{s}.jpg").is_file() for s in originals) and new.is_file()
        (tree.camera / "IMG_0301.jpg").write_bytes(look_alike(originals[32], 0.7, 80))
        after = wait_for(lambda: filed_named(tree, "IMG_0301.jpg"), what="filed after forget")
        assert isinstance(after, Path) and folder_of(tree, after) != "Receipts"
        assert tree.ctl("forget", "receipts").returncode == 1
    finally:
        assert tree.stop(daemon) == 0


def test_in_tag_mode_a_category_keyword_changed_in_the_sidecar_is_a_correction(
        tree: DaemonTree) -> None:
    tree.config.write_text(tree.config.read_text().replace('action = "move"', 'action = "tag"'))
    daemon = tree.start()
    try:
        photo = tree.camera / "IMG_0400.jpg"
        textured_photo(41).save(photo, quality=92)
        sidecar = tree.camera / "IMG_0400.jpg.xmp"
        wait_for(sidecar.exists, what="the photo tagged")
        shipped = explain(tree, photo)["category"]
        target = "pets" if shipped != "pets" else "food"
        text = sidecar.read_text()
        assert f"<rdf:li>{shipped}</rdf:li>" in text and f"xintud|{shipped}" in text

        # Another program adds a keyword beside it: a keyword, not a correction.
        sidecar.write_text(text.replace(f"<rdf:li>{shipped}</rdf:li>",
                                        f"<rdf:li>{shipped}</rdf:li><rdf:li>travel</rdf:li>"))
        refused = tree.ctl("correct", str(photo), target)
        assert refused.returncode == 1 and "in tag mode" in refused.stderr
        time.sleep(2.0)  # four settle times: the edit has been read by now
        assert tree.status()["learning"]["corrections"] == 0

        # ...then the user replaces the category keyword in digiKam: a correction.
        edited = text.replace(f"<rdf:li>{shipped}</rdf:li>", f"<rdf:li>{target}</rdf:li>")
        sidecar.write_text(edited.replace(f"xintud|{shipped}", f"xintud|{target}"))
        wait_for(lambda: explain(tree, photo)["category"] == target, what="the correction")
        assert tree.status()["learning"]["corrections"] == 1
        assert "keyword changed by you" in explain(tree, photo)["action"]
        assert sidecar.read_text() == edited.replace(f"xintud|{shipped}", f"xintud|{target}"), \
            "the user's sidecar is left as their program wrote it"
        assert photo.is_file()
    finally:
        assert tree.stop(daemon) == 0


def test_in_copy_mode_correct_moves_the_library_copy_and_leaves_the_original(
        tree: DaemonTree) -> None:
    tree.config.write_text(tree.config.read_text().replace('action = "move"', 'action = "copy"'))
    daemon = tree.start()
    try:
        photo = tree.camera / "IMG_0500.jpg"
        textured_photo(51).save(photo, quality=92)
        copy = wait_for(lambda: filed_named(tree, "IMG_0500.jpg"), what="the copy filed")
        assert isinstance(copy, Path)
        target, folder = ("food", "Food") if folder_of(tree, copy) != "Food" else (
            "pets", "Pets")
        done = tree.ctl("--json", "correct", str(copy), target)
        assert done.returncode == 0, done.stderr
        moved = Path(json.loads(done.stdout)["path"])
        assert folder_of(tree, moved) == folder and moved.is_file() and not copy.exists()
        assert photo.is_file() and sha256(photo) == sha256(moved), "the original stays"
        assert explain(tree, photo)["category"] == target
        assert tree.status()["learning"]["corrections"] == 1
    finally:
        assert tree.stop(daemon) == 0
