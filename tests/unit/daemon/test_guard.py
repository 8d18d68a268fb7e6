"""A bug triggered by one photo must not stop the daemon, lose photos, or repeat at every start."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.support.daemon_tree import runtime_prefix
from tests.support.images import write_jpeg
from xintud.config.load import validate_config
from xintud.core.paths import AppPaths
from xintud.daemon.loop import Daemon
from xintud.state.records import FileState


def test_an_unexpected_error_sets_only_the_guilty_photo_aside(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    camera, library = tmp_path / "Camera", tmp_path / "Library"
    camera.mkdir()
    config = validate_config({"watch": [{"path": str(camera)}],
                              "library": {"root": str(library), "min_confidence": 0.0},
                              "daemon": {"batch_max_wait_seconds": 0.0}})
    runtime = Path(tempfile.mkdtemp(prefix=runtime_prefix(), dir="/tmp"))
    paths = AppPaths(config_file=tmp_path / "config.toml", state_dir=tmp_path / "state",
                     runtime_dir=runtime, db_path=tmp_path / "state" / "state.db",
                     socket_path=runtime / "control.sock", lock_path=runtime / "xintud.lock")
    daemon = Daemon(config, None, paths)
    try:
        good = [write_jpeg(camera / f"IMG_{i}.jpg", seed=i) for i in range(3)]
        poison = write_jpeg(camera / "poison.jpg", seed=99)
        real_process = daemon.processor.process

        def process_with_a_bug(items):  # noqa: ANN001, ANN202 - the shape of process()
            if any(item.path == poison for item in items):
                raise RuntimeError("a bug that this one photo triggers")
            return real_process(items)

        monkeypatch.setattr(daemon.processor, "process", process_with_a_bug)
        daemon.queue.enqueue_many([(p, "camera") for p in [*good, poison]])
        daemon._process_ready_batches()

        assert poison.exists(), "the photo that triggered the bug stays where it is"
        assert all(not p.exists() for p in good), "the other photos in the batch are filed"
        assert len(list(library.rglob("IMG_*.jpg"))) == 3
        record = daemon.records.get_by_path(poison)
        assert record is not None and record.state is FileState.FAILED
        assert "internal error" in record.reason
        assert daemon.queue.pending_count() == 0, "nothing is left to loop on at the next start"
    finally:
        daemon.stop()
