"""The benchmark harness's own parts (the benchmark itself runs with `python -m bench`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import report
from bench.data import distinct_copy, make_screenshot
from bench.measure import cpu_seconds, peak_rss_mib, percentile, rss_mib
from tests.support.images import write_jpeg


def test_percentile_interpolates_and_refuses_nothing() -> None:
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([0.0, 10.0], 0.95) == pytest.approx(9.5)
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_distinct_copy_keeps_the_pixels_and_changes_the_hash(tmp_path: Path) -> None:
    source = write_jpeg(tmp_path / "a.jpg", size=(64, 48), seed=1)
    copies = [tmp_path / "b.jpg", tmp_path / "c.jpg"]
    for i, copy in enumerate(copies):
        distinct_copy(source, copy, f"tag {i}")
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in [source, *copies]}
    assert len(digests) == 3
    with Image.open(source) as original, Image.open(copies[0]) as copied:
        assert np.array_equal(np.asarray(original), np.asarray(copied))


def test_distinct_copy_refuses_what_is_not_a_jpeg(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(ValueError, match="not a JPEG"):
        distinct_copy(tmp_path / "x.png", tmp_path / "y.png", "tag")


def test_screenshots_are_phone_sized_pngs(tmp_path: Path) -> None:
    import random

    path = tmp_path / "Screenshot_1.png"
    make_screenshot(path, 1, random.Random(0), inset=None)
    with Image.open(path) as image:
        assert (image.format, image.size) == ("PNG", (1080, 2340))


def test_process_measures_read_this_process() -> None:
    pid = os.getpid()
    assert 0 < rss_mib(pid) <= peak_rss_mib(pid)
    assert cpu_seconds(pid) > 0


def test_table_marks_missed_targets_and_skips_absent_sections() -> None:
    results = {
        "commit": "abc1234", "cpus": 2, "load_average_start": 0.5,
        "daemon": {"rss_peak_mib": 250.0, "rss_idle_after_unload_mib": 60.0,
                   "idle_cpu_s_per_min": 0.01},
    }
    text = report.table(results)
    assert "abc1234" in text
    peak = next(line for line in text.splitlines() if "peak RSS" in line)
    idle = next(line for line in text.splitlines() if "idle RSS" in line)
    assert peak.rstrip().endswith("MISSED") and idle.rstrip().endswith("ok")
    assert "classify" not in text
