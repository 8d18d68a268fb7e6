"""The `xintud` command line: `--json` before or after the command, and the version."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tests.support.images import write_jpeg
from xintud import __version__


def xintud(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xintud", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_classify_takes_json_before_or_after_the_command(tmp_path: Path) -> None:
    photo = str(write_jpeg(tmp_path / "IMG_1.jpg"))
    before = xintud("--json", "classify", photo)
    after = xintud("classify", photo, "--json")
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert json.loads(before.stdout)["path"] == photo
    plain = xintud("classify", photo)
    assert not plain.stdout.startswith("{")


def test_version_plain_and_json() -> None:
    assert xintud("--version").stdout.strip() == f"xintud {__version__}"
    assert json.loads(xintud("--json", "--version").stdout) == {"version": __version__}


def test_a_bad_config_with_json_is_logged_as_json_lines(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[library]\naction = "shred"\n')
    proc = subprocess.run([sys.executable, "-m", "xintud", "--json", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"XINTUD_ALLOW_ROOT": "1", "HOME": str(tmp_path),
                               "XDG_STATE_HOME": str(tmp_path / "state"),
                               "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    entries = [json.loads(line) for line in proc.stderr.splitlines()]
    refused = [e for e in entries if e["level"] == "error"]
    assert refused and "library.action" in refused[0]["message"]
    assert str(config) in refused[0]["message"]


def test_a_photo_with_an_unusual_extension_is_classified_and_other_files_are_reported(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    jpeg = write_jpeg(folder / "a.jpg").read_bytes()
    (folder / "a.jpg").rename(folder / "photo.img")  # a JPEG under a name no viewer expects
    (folder / "notes.txt").write_text("shopping list")
    by_name = xintud("classify", "--json", str(folder))
    assert by_name.returncode == 0, by_name.stderr
    results = [json.loads(line) for line in by_name.stdout.splitlines()]
    assert [Path(r["path"]).name for r in results] == ["photo.img"]
    assert results[0]["evidence"]["metadata"]["format"] == "JPEG"
    assert f"skipped {folder / 'notes.txt'}: not an image" in by_name.stderr
    direct = xintud("classify", "--json", str(folder / "photo.img"))
    assert json.loads(direct.stdout)["sha256"] == hashlib.sha256(jpeg).hexdigest()


def test_classify_answers_with_what_the_daemon_learned_unless_told_shipped(
        tmp_path: Path) -> None:
    import os

    from xintud.engine.classify import Classifier, Job
    from xintud.engine.learned import LearnedHeads
    from xintud.engine.models.store import load_models
    from xintud.learning.propose import Example, propose
    from xintud.learning.versions import ModelVersions

    photo = write_jpeg(tmp_path / "IMG_1.jpg", seed=4)
    models = load_models(threads=1)
    with Classifier(models) as classifier:
        studied = classifier.study(Job(photo))
    assert not hasattr(studied, "error")
    target = "pets" if studied.shipped.category != "pets" else "food"
    shipped = LearnedHeads(models.glance_head, models.head, models.text_head)
    proposal = propose([Example(studied.sha256, target, studied.features)], None, "v0001",
                       shipped)
    state = tmp_path / "state"
    ModelVersions(state / "xintud" / "learned").save(proposal.info, proposal.memory,
                                                     proposal.heads, proposal.hashes)
    env = {**os.environ, "XDG_STATE_HOME": str(state)}

    def classify(*extra: str) -> dict:
        done = subprocess.run([sys.executable, "-m", "xintud", "classify", "--json", *extra,
                               str(photo)], capture_output=True, text=True, timeout=300,
                              env=env, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    learned, alone = classify(), classify("--shipped")
    assert (learned["category"], learned["model"]) == (target, f"{models.version}+v0001")
    assert (alone["category"], alone["model"]) == (studied.shipped.category, models.version)
    (state / "xintud" / "learned" / "v0001.npz").write_bytes(b"broken")
    broken = subprocess.run([sys.executable, "-m", "xintud", "classify", str(photo)],
                            capture_output=True, text=True, timeout=300, env=env, check=False)
    assert broken.returncode == 2 and "--shipped" in broken.stderr
