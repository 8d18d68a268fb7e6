"""`xintud classify`: the JSON contract, bad input, model verification, and real predictions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.images import camera_exif, png_bomb_bytes, scene, write_jpeg
from xintud.core.categories import CATEGORY_IDS
from xintud.core.facts import Analysis, AnalysisFailure, result_to_json
from xintud.engine.classify import Classifier, Job
from xintud.engine.models.manifest import MODELS_DIR_ENV, ModelError, models_dir
from xintud.engine.models.memory import release_model_memory
from xintud.engine.models.store import load_models

REPO = Path(__file__).resolve().parents[3]
PHOTOS = REPO.parent / "shared" / "photos"


def run_classify(*args: str, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xintud", "classify", *args],
                          capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def models():  # noqa: ANN201 - a LoadedModels
    return load_models(threads=2)


def make_mixed_folder(folder: Path) -> dict[str, str]:
    """Good and bad files; returns name → "ok" | "error"."""
    folder.mkdir(parents=True, exist_ok=True)
    write_jpeg(folder / "photo.jpg", size=(1600, 1200), exif=camera_exif())
    scene((1080, 2340), seed=3).save(folder / "Screenshot_20261129.png")
    (folder / "empty.jpg").write_bytes(b"")
    whole = write_jpeg(folder / "whole.jpg", seed=5).read_bytes()
    (folder / "whole.jpg").unlink()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    (folder / "page.jpg").write_text("<html>not a photo</html>")
    (folder / "bomb.png").write_bytes(png_bomb_bytes())
    (folder / "album.jpg").mkdir()
    return {"photo.jpg": "ok", "Screenshot_20261129.png": "ok", "empty.jpg": "error",
            "truncated.jpg": "error", "page.jpg": "error", "bomb.png": "error",
            "album.jpg": "error"}


def test_json_lines_contract_and_bad_input(tmp_path: Path) -> None:
    expected = make_mixed_folder(tmp_path / "in")
    paths = [str(tmp_path / "in" / name) for name in sorted(expected)]
    done = run_classify("--json", *paths)
    assert done.returncode == 1, done.stderr  # some files failed, the run went on
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [Path(item["path"]).name for item in lines] == sorted(expected)
    for item in lines:
        name = Path(item["path"]).name
        if expected[name] == "error":
            assert item["error"] and "category" not in item, item
            continue
        assert item["category"] in CATEGORY_IDS
        assert 0.0 <= item["confidence"] <= 1.0
        assert set(item["scores"]) == set(CATEGORY_IDS)
        assert sum(item["scores"].values()) == pytest.approx(1.0, abs=1e-3)
        assert item["confidence"] == max(item["scores"].values())
        imagenet = item["evidence"]["imagenet"]
        assert len(imagenet) == 5
        assert all(set(guess) == {"wnid", "label", "p"} for guess in imagenet)
        assert [g["p"] for g in imagenet] == sorted((g["p"] for g in imagenet), reverse=True)
        assert all(g["wnid"].startswith("n") for g in imagenet)
        for detection in item["evidence"]["detections"]:
            assert set(detection) == {"label", "score", "box"} and len(detection["box"]) == 4
        assert "metadata" in item["evidence"] and item["model"]
        assert not {"embedding", "layout", "screen_layout"} & set(item), "bulky fields"
    by_name = {Path(item["path"]).name: item for item in lines}
    assert by_name["photo.jpg"]["evidence"]["metadata"]["camera_exif"] is True
    shot = by_name["Screenshot_20261129.png"]
    assert shot["evidence"]["metadata"]["screenshot_name"] is True
    assert shot["evidence"]["rules"], "the screenshot name rule should be named as evidence"
    assert "directory" in by_name["album.jpg"]["error"]
    assert "bomb" in by_name["bomb.png"]["error"]


def test_plain_output_walks_folders(tmp_path: Path) -> None:
    write_jpeg(tmp_path / "a" / "b" / "IMG_1.jpg")
    write_jpeg(tmp_path / "a" / ".thumbnails" / "hidden.jpg")
    (tmp_path / "a" / "notes.txt").write_text("not an image, not looked at")
    done = run_classify(str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    name, category, confidence = lines[0].split()
    assert name.endswith("IMG_1.jpg") and category in CATEGORY_IDS
    assert 0.0 <= float(confidence) <= 1.0


def test_screenshot_folder_hint_and_name_rule(models, tmp_path: Path) -> None:
    """A camera-less PNG at a phone screen size, named like a screenshot, is a screenshot."""
    image = Image.new("RGB", (1080, 2340), (245, 245, 245))
    path = tmp_path / "Screenshot_2026-11-29-10-00-00.png"
    image.save(path)
    with Classifier(models) as classifier:
        named, = classifier.classify_batch([Job(path)])
        hinted, = classifier.classify_batch([Job(path, folder_kind="screenshots")])
    assert isinstance(named, Analysis) and named.category == "screenshot"
    assert isinstance(hinted, Analysis) and hinted.evidence.metadata.screenshot_folder


def test_classifier_returns_one_result_per_job_in_order(models, tmp_path: Path) -> None:
    jobs = []
    for i in range(19):  # not a multiple of the batch size
        path = tmp_path / f"p{i:02d}.jpg"
        if i % 7 == 3:
            path.write_bytes(b"garbage")
        else:
            write_jpeg(path, size=(320, 240), seed=i)
        jobs.append(Job(path))
    with Classifier(models, batch_size=4) as classifier:
        results = list(classifier.classify(jobs))
    assert [r.path for r in results] == [str(j.path) for j in jobs]
    assert [isinstance(r, AnalysisFailure) for r in results] == [i % 7 == 3 for i in range(19)]


def unsure(head):  # noqa: ANN001, ANN201 - a HeadWeights whose answer is never sure
    return replace(head, weights=np.zeros_like(head.weights), bias=np.zeros_like(head.bias))


def test_detector_is_skipped_on_screen_captures_and_the_evidence_says_so(
    models, tmp_path: Path
) -> None:
    models = replace(models, glance_head=unsure(models.glance_head))  # always look closer
    capture = tmp_path / "IMG_0001.png"  # not named like a screenshot: the PNG at size says it
    scene((1080, 2340), seed=4).save(capture)
    photo = write_jpeg(tmp_path / "IMG_0002.jpg", size=(1080, 2340), seed=4, exif=camera_exif())
    with Classifier(models) as classifier:
        skipped, looked = classifier.classify_batch([Job(capture), Job(photo)])
    assert isinstance(skipped, Analysis) and isinstance(looked, Analysis)
    assert skipped.evidence.detections == []
    assert any(rule.startswith("detector skipped:") for rule in skipped.evidence.rules)
    assert not any(rule.startswith("detector skipped:") for rule in looked.evidence.rules)


def test_pictures_side_by_side_give_the_same_results_as_one_at_a_time(
    models, tmp_path: Path
) -> None:
    jobs = [Job(write_jpeg(tmp_path / f"p{i}.jpg", size=(800, 600), seed=i)) for i in range(6)]
    with Classifier(models, decode_threads=1) as one, Classifier(models, decode_threads=3) as three:
        alone = one.classify_batch(jobs)
        together = three.classify_batch(jobs)
    assert [r.model_dump() for r in alone] == [r.model_dump() for r in together]


def test_models_load_again_after_their_memory_is_released(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "p.jpg", size=(1600, 1200), seed=2)
    with Classifier(load_models(threads=1)) as classifier:
        (before,) = classifier.classify_batch([Job(path)])
    release_model_memory()  # drops the runtime's code pages too: it must still run after
    with Classifier(load_models(threads=1)) as classifier:
        (after,) = classifier.classify_batch([Job(path)])
    assert isinstance(before, Analysis) and before.model_dump() == after.model_dump()


def copy_models(target: Path) -> Path:
    shutil.copytree(models_dir(), target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def test_corrupt_model_is_refused_with_a_fix(tmp_path: Path) -> None:
    directory = copy_models(tmp_path / "models")
    head = directory / "head.npz"
    data = bytearray(head.read_bytes())
    data[len(data) // 2] ^= 0xFF
    head.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt.*reinstall"):
        load_models(directory=directory)
    env = {**os.environ, MODELS_DIR_ENV: str(directory)}
    done = run_classify(str(write_jpeg(tmp_path / "x.jpg")), env=env)
    assert done.returncode == 2 and "corrupt" in done.stderr and not done.stdout


def test_missing_model_is_refused_with_a_fix(tmp_path: Path) -> None:
    directory = copy_models(tmp_path / "models")
    (directory / "coco_labels.json").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_models(directory=directory)


def test_manifest_lists_every_model_file_with_its_contract() -> None:
    manifest = json.loads((models_dir() / "manifest.json").read_text())
    files = manifest["files"]
    assert {"backbone", "detector", "face_pnet", "face_rnet", "face_onet", "text", "head_glance",
            "head", "head_text", "imagenet_labels", "coco_labels"} == set(files)
    for entry in files.values():
        assert len(entry["sha256"]) == 64 and entry["bytes"] > 0
    assert files["backbone"]["input"]["dtype"] == "uint8"
    assert files["backbone"]["provenance"]["licence"] == "Apache-2.0"
    assert files["head"]["accuracy"]["macro_accuracy"] is not None
    assert files["face_onet"]["provenance"]["package"] == "facenet-pytorch"
    assert files["text"]["provenance"]["package"] == "rapidocr-onnxruntime"
    # The budget: every model together at most 30 MB on disk.
    assert sum(entry["bytes"] for entry in files.values()) <= 30 * 2**20



def test_each_network_looks_only_where_the_last_answer_was_not_enough(
    models, tmp_path: Path
) -> None:
    photo = write_jpeg(tmp_path / "IMG_0003.jpg", size=(1200, 900), seed=8, exif=camera_exif())
    capture = tmp_path / "IMG_0004.png"
    scene((1080, 2340), seed=5).save(capture)
    sure_glance = replace(models, glance_head=replace(
        models.glance_head, bias=models.glance_head.bias + 50 * np.eye(8)[0]))
    with Classifier(sure_glance) as classifier:
        (glanced,) = classifier.classify_batch([Job(photo)])
    assert isinstance(glanced, Analysis) and glanced.category == "social"
    assert any("not looked at: the backbone alone is sure" in r for r in glanced.evidence.rules)
    assert glanced.evidence.faces is None and glanced.evidence.text is None
    assert glanced.evidence.detections == []
    all_unsure = replace(models, glance_head=unsure(models.glance_head),
                         head=unsure(models.head))
    with Classifier(all_unsure) as classifier:
        looked, skipped = classifier.classify_batch([Job(photo), Job(capture)])
    assert isinstance(looked, Analysis) and isinstance(skipped, Analysis)
    rules = " | ".join(looked.evidence.rules)
    assert "text looked for: first answer unsure" in rules, rules
    assert looked.evidence.text is not None  # read, and a layout reported even when empty
    assert (looked.evidence.faces is None) == ("faces not looked for" in rules)
    assert any(r.startswith("detector skipped") for r in skipped.evidence.rules)
    assert "faces not looked for: a screen capture" in " | ".join(skipped.evidence.rules)
    line = json.loads(result_to_json(looked))["evidence"]
    assert {"faces", "background", "text"} <= set(line)


def test_mismatched_head_layout_is_refused(models) -> None:
    swapped = replace(models, glance_head=models.head)
    with pytest.raises(ModelError, match="head_glance"):
        Classifier(swapped)


@pytest.mark.skipif(not (PHOTOS / "manifest.csv").is_file(),
                    reason=f"labelled development photos not present at {PHOTOS}")
def test_an_id_photo_shows_its_face_and_plain_background(models) -> None:
    forced = replace(models, glance_head=unsure(models.glance_head))  # the closer look runs
    with Classifier(forced) as classifier:
        (result,) = classifier.classify_batch([Job(PHOTOS / "idphoto" / "idphoto-001.jpg")])
    assert isinstance(result, Analysis), result
    faces, background = result.evidence.faces, result.evidence.background
    assert faces is not None and len([f for f in faces if f.score >= 0.99]) == 1
    assert background is not None and background.uniformity > 0.8
    assert result.category == "idphoto"


@pytest.mark.slow
def test_installed_package_classifies_without_the_source_tree(tmp_path: Path) -> None:
    """`pip install .` must carry the models as package data."""
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(REPO)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (target / "xintud" / "models" / "manifest.json").is_file()
    photo = write_jpeg(tmp_path / "IMG_9.jpg")
    env = {k: v for k, v in os.environ.items() if k != MODELS_DIR_ENV}
    env["PYTHONPATH"] = str(target)
    done = run_classify("--json", str(photo), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["category"] in CATEGORY_IDS
    shown = subprocess.run([sys.executable, "-c", "import xintud; print(xintud.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True)
    assert shown.stdout.startswith(str(target))


class LeanToPets:
    """What a user taught, as the engine sees it: every photo leans hard toward pets."""

    def logit_bonus(self, features: np.ndarray, categories) -> np.ndarray:  # noqa: ANN001
        bonus = np.zeros((len(features), len(categories)), np.float32)
        bonus[:, list(categories).index("pets")] = 50.0
        return bonus

    def reasons(self, features: np.ndarray) -> list[str]:
        return ["looks like a photo you filed as pets"]


def test_what_the_user_taught_leans_every_stage_and_study_sees_the_shipped_answer(
        models, tmp_path: Path) -> None:
    from xintud.engine.features import TEXT_FEATURE_NAMES
    from xintud.engine.learned import Learned

    path = tmp_path / "IMG_1.jpg"
    write_jpeg(path, seed=3)
    with Classifier(models) as classifier:
        [shipped] = classifier.classify_batch([Job(path)])
        classifier.use_learned(Learned("v0007", LeanToPets()))
        [leaned] = classifier.classify_batch([Job(path)])
        studied = classifier.study(Job(path))
    assert isinstance(shipped, Analysis) and isinstance(leaned, Analysis)
    assert shipped.model == models.version and leaned.model == f"{models.version}+v0007"
    assert leaned.category == "pets" and leaned.confidence > 0.99
    assert "looks like a photo you filed as pets" in leaned.evidence.rules
    assert not isinstance(studied, AnalysisFailure)
    assert studied.shipped.category == shipped.category, "study ignores what was taught"
    assert studied.features.shape == (len(TEXT_FEATURE_NAMES),)
    assert studied.sha256 == shipped.sha256
