"""One batch through classify → place → act → record, with the real models, actor and database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.images import camera_exif, write_jpeg
from xintud.config.load import validate_config
from xintud.config.schema import Config
from xintud.daemon.batch import BatchProcessor
from xintud.engine.classify import Classifier
from xintud.engine.models.store import LoadedModels, load_models
from xintud.library.actor import Actor
from xintud.state.db import open_state_db
from xintud.state.journal import Journal
from xintud.state.queue import FileQueue
from xintud.state.records import FileState, Records


@pytest.fixture(scope="module")
def models() -> LoadedModels:
    return load_models(threads=2)


class Setup:
    """A watch folder, a library and a state database wired to a BatchProcessor."""

    def __init__(self, tmp_path: Path, models: LoadedModels, **library: object) -> None:
        self.camera = tmp_path / "Camera"
        self.camera.mkdir()
        self.library = tmp_path / "Library"
        dry_run = bool(library.pop("dry_run", False))
        self.config: Config = validate_config({
            "watch": [{"path": str(self.camera)}],
            "library": {"root": str(self.library), **library},
            "daemon": {"dry_run": dry_run},
        })
        conn = open_state_db(tmp_path / "state" / "state.db")
        self.queue = FileQueue(conn)
        self.records = Records(conn)
        self.journal = Journal(conn)
        self.classifier = Classifier(models)
        get: Callable[[], Classifier] = lambda: self.classifier  # noqa: E731
        self.processor = BatchProcessor(self.queue, self.records,
                                        Actor(self.journal, dry_run=dry_run), get, self.config)

    def run(self, *paths: Path) -> None:
        for path in paths:
            self.queue.enqueue(path, "camera")
        self.processor.process(self.queue.claim(100))


def test_move_files_by_exif_date_and_records_it(tmp_path: Path, models: LoadedModels) -> None:
    setup = Setup(tmp_path, models, min_confidence=0.0)
    photo = write_jpeg(setup.camera / "IMG_1.jpg", exif=camera_exif(taken="2024:02:03 04:05:06"))
    setup.run(photo)
    filed = list(setup.library.rglob("IMG_1.jpg"))
    assert len(filed) == 1 and not photo.exists()
    assert filed[0].parent.parts[-2:] == ("2024", "02")
    record = setup.records.get_by_path(filed[0])
    assert record is not None and record.state is FileState.DONE
    assert json.loads(record.result_json)["category"] == record.category
    assert setup.queue.pending_count() == 0


def test_copy_keeps_original_and_is_not_repeated(tmp_path: Path, models: LoadedModels) -> None:
    setup = Setup(tmp_path, models, action="copy", min_confidence=0.0)
    photo = write_jpeg(setup.camera / "IMG_2.jpg")
    setup.run(photo)
    setup.run(photo)  # seen again (an event, a scan): recognised by hash, not copied twice
    renamed = photo.rename(setup.camera / "renamed.jpg")
    setup.run(renamed)
    assert photo.exists() is False and renamed.exists()
    assert len(list(setup.library.rglob("*.jpg"))) == 1


def test_tag_writes_a_sidecar_and_leaves_the_photo(tmp_path: Path, models: LoadedModels) -> None:
    setup = Setup(tmp_path, models, action="tag", min_confidence=0.0)
    photo = write_jpeg(setup.camera / "IMG_3.jpg")
    before = photo.read_bytes()
    setup.run(photo)
    sidecar = setup.camera / "IMG_3.jpg.xmp"
    assert sidecar.is_file() and photo.read_bytes() == before
    record = setup.records.get_by_path(photo)
    assert record is not None and record.category in sidecar.read_text()


def test_low_confidence_is_left_in_place(tmp_path: Path, models: LoadedModels) -> None:
    setup = Setup(tmp_path, models, min_confidence=1.0)
    photo = write_jpeg(setup.camera / "IMG_4.jpg")
    setup.run(photo)
    assert photo.exists() and not setup.library.exists()
    record = setup.records.get_by_path(photo)
    assert record is not None and record.state is FileState.SKIPPED
    assert "min_confidence" in record.reason


def test_low_confidence_can_go_to_other(tmp_path: Path, models: LoadedModels) -> None:
    setup = Setup(tmp_path, models, min_confidence=1.0, below_threshold="other")
    photo = write_jpeg(setup.camera / "IMG_5.jpg")
    setup.run(photo)
    filed = list(setup.library.rglob("IMG_5.jpg"))
    assert len(filed) == 1 and filed[0].relative_to(setup.library).parts[0] == "Other"


def test_dry_run_touches_and_remembers_nothing(tmp_path: Path, models: LoadedModels) -> None:
    setup = Setup(tmp_path, models, min_confidence=0.0, dry_run=True)
    photo = write_jpeg(setup.camera / "IMG_6.jpg")
    setup.run(photo)
    assert photo.exists() and not setup.library.exists()
    assert setup.records.get_by_path(photo) is None
    assert setup.journal.done_actions() == []


def test_bad_file_is_recorded_failed_and_does_not_block(tmp_path: Path,
                                                         models: LoadedModels) -> None:
    setup = Setup(tmp_path, models, min_confidence=0.0)
    bad = setup.camera / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    good = write_jpeg(setup.camera / "good.jpg")
    setup.run(bad, good)
    assert bad.exists() and not good.exists()
    record = setup.records.get_by_path(bad)
    assert record is not None and record.state is FileState.FAILED and record.reason
    assert setup.queue.pending_count() == 0


def test_unwritable_library_is_retried_later(tmp_path: Path, models: LoadedModels) -> None:
    setup = Setup(tmp_path, models, min_confidence=0.0)
    setup.library.write_text("a file where the library folder should be")
    photo = write_jpeg(setup.camera / "IMG_7.jpg")
    setup.run(photo)
    assert photo.exists()
    assert setup.queue.pending_count() == 1  # waiting for its retry time, not lost
    assert setup.queue.next_retry_at() is not None
