"""Companion detection on a backlog: `python -m bench.companions [--files N]`.

A folder of N photos (empty files: only names matter here), one in ten with a Live Photo
video and one in ten with a sidecar beside it: the time `intake.companions.companions_of`
takes per photo (median of 3 passes over all of them), set against the daemon's own time per
12 MP photo measured by `python -m bench.formats` (bench/out/formats.json), as a share.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.measure import median
from xintud.intake.companions import companions_of

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.companions", description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        photos = []
        for i in range(args.files):
            photo = Path(folder) / f"IMG_{i:05d}.HEIC"
            photo.touch()
            photos.append(photo)
            if i % 10 == 0:
                photo.with_suffix(".MOV").touch()
            if i % 10 == 5:
                photo.with_name(photo.name + ".xmp").touch()
        passes = []
        for _ in range(3):
            started = time.perf_counter()
            found = sum(len(companions_of(photo)) for photo in photos)
            passes.append(time.perf_counter() - started)
    per_photo_ms = median(passes) * 1000 / args.files
    results: dict[str, object] = {"files": args.files, "companions_found": found,
                                  "per_photo_ms": round(per_photo_ms, 4)}
    formats = REPO / "bench" / "out" / "formats.json"
    if formats.exists():
        jpeg = json.loads(formats.read_text())["photos_per_s"]["jpeg"]["classify"]
        results["share_of_a_12mp_jpeg_filing"] = f"{per_photo_ms / (1000 / jpeg):.2%}"
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
