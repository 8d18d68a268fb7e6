"""Run the benchmark: `python -m bench` (full) or `python -m bench --quick` (a short run).

Prints a table and writes JSON (default bench/out/latest.json plus a timestamped copy).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import daemon, data, pipeline, report, stages, startup
from bench.measure import load_average

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("profile", "classify", "startup", "daemon")


def commit() -> str:
    """The repository's HEAD commit, with '+dirty' when the tree has changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--", "xintud", "models") else "")


def models_on_disk_mb() -> float:
    """Total size of the files the manifest ships, in MB (10^6 bytes)."""
    from xintud.engine.models.manifest import models_dir, read_manifest

    directory = models_dir()
    manifest = read_manifest(directory)
    total = sum((directory / entry.file).stat().st_size for entry in manifest.files.values())
    return round(total / 1e6, 2)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer pictures, repeats and photos: a few minutes")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeatable)")
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR,
                        help="where generated pictures are cached (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "latest.json")
    parser.add_argument("--repeats", type=int, help="timed passes per pipeline")
    parser.add_argument("--backlog", type=int, help="photos in the daemon's backlog")
    return parser.parse_args(argv)


def run_classify(args: argparse.Namespace, sets: dict[str, data.PictureSet]
                 ) -> dict[str, Any]:
    """Ours vs the reference over each picture set."""
    repeats = args.repeats or (3 if args.quick else 5)
    out: dict[str, Any] = {}
    for kind, pictures in sets.items():
        ours, reference = pipeline.compare(pictures.files, kind, repeats)
        out[kind] = {
            "mean_file_mb": round(pictures.mean_bytes / 1e6, 2),
            "xintud": ours.summary(),
            "reference": reference.summary(),
            "ratio": round(ours.images_per_s / reference.images_per_s, 2),
        }
        print(f"  {kind}: {ours.images_per_s:.1f} images/s vs reference "
              f"{reference.images_per_s:.1f}", flush=True)
    return out


def run_profile(sets: dict[str, data.PictureSet]) -> dict[str, Any]:
    """CPU ms per stage, one picture at a time, for each picture set."""
    from xintud.engine.models.store import load_models

    models = load_models(threads=1)
    return {kind: stages.profile(models, pictures.files, kind) for kind, pictures in sets.items()}


def run_startup(args: argparse.Namespace, camera: data.PictureSet) -> dict[str, Any]:
    """Model load, cold start, models on disk."""
    repeats = 3 if args.quick else 5
    load = startup.model_load(repeats)
    return {
        "model_load": load.__dict__,
        "classify_cold_start": startup.classify_cold_start(camera.files[0], repeats),
        "models_on_disk_mb": models_on_disk_mb(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections, print the table, write the JSON."""
    args = parse_args(argv)
    sections = args.only or list(SECTIONS)
    results: dict[str, Any] = {
        "commit": commit(), "quick": args.quick, "cpus": os.cpu_count(),
        "load_average_start": load_average(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": sys.version.split()[0],
    }
    print("generating/reading benchmark pictures ...", flush=True)
    camera = data.camera_photos(args.data, 12 if args.quick else 48)
    shots = data.screenshots(args.data, 6 if args.quick else 24)
    if "profile" in sections:
        print("per-stage CPU profile ...", flush=True)
        results["profile"] = run_profile({"camera": camera, "screenshots": shots})
    if "classify" in sections:
        print("classify throughput ...", flush=True)
        results["classify"] = run_classify(args, {"camera": camera, "screenshots": shots})
    if "startup" in sections:
        print("start-up costs ...", flush=True)
        results["startup"] = run_startup(args, camera)
    if "daemon" in sections:
        print("daemon end to end ...", flush=True)
        count = args.backlog or (200 if args.quick else 2000)
        results["daemon"] = daemon.run(camera.files, args.quick, count)
    results["load_average_end"] = load_average()
    print(report.table(results))
    report.write_json(results, args.out)
    stamped = args.out.with_name(f"run-{time.strftime('%Y%m%d-%H%M%S')}.json")
    report.write_json(results, stamped)
    print(f"written: {args.out} and {stamped.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
