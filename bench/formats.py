"""Phone formats benchmark: `python -m bench.formats [--count N] [--repeats R]`.

12 MP HEIC photos next to the same photos as 12 MP JPEGs (bench/data.py's camera set,
re-encoded by pillow-heif at quality 80, EXIF kept), and as TIFF-based RAW files (.NEF) that
carry the JPEG as their full-size preview, as Nikon's do (tests/support/raw.py builds them):
photos/s decoding alone and through the whole classifier as the daemon runs it, the formats
alternating, medians of the runs.
Prints JSON and writes bench/out/formats.json. The HEIC files are cached beside the JPEGs
(encoding one 12 MP HEIC takes ~10 s).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the daemon runs (cli/xintud.py)

from PIL import Image  # noqa: E402

from bench import data  # noqa: E402
from bench.measure import load_average, median, timed  # noqa: E402
from bench.pipeline import daemon_classifier, run_ours  # noqa: E402
from xintud.config.schema import DaemonConfig  # noqa: E402
from xintud.engine.decode import decode_image  # noqa: E402
from xintud.engine.models.store import load_models  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HEIC_QUALITY = 80


def heic_twins(jpegs: tuple[Path, ...], folder: Path) -> list[Path]:
    """Each JPEG re-encoded as HEIC (cached)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    folder.mkdir(parents=True, exist_ok=True)
    twins = []
    for jpeg in jpegs:
        twin = folder / f"{jpeg.stem}.HEIC"
        if not twin.exists():
            with Image.open(jpeg) as image:
                exif = image.getexif()
                part = twin.with_suffix(".part")
                image.save(part, "HEIF", quality=HEIC_QUALITY, exif=exif.tobytes())
                part.rename(twin)
        twins.append(twin)
    return twins


def raw_twins(jpegs: tuple[Path, ...], folder: Path) -> list[Path]:
    """Each JPEG as the preview inside a TIFF-based RAW (cached)."""
    from tests.support.raw import tiff_raw

    folder.mkdir(parents=True, exist_ok=True)
    twins = []
    for jpeg in jpegs:
        twin = folder / f"{jpeg.stem}.NEF"
        if not twin.exists():
            twin.write_bytes(tiff_raw(jpeg.read_bytes()))
        twins.append(twin)
    return twins


def decode_all(files: list[Path]) -> None:
    """Decode every file as the engine does (the working-size picture and its metadata)."""
    for path in files:
        decode_image(path)


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.formats", description=__doc__)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "formats.json")
    args = parser.parse_args(argv)
    jpegs = list(data.camera_photos(args.data, args.count).files)
    heics = heic_twins(tuple(jpegs), args.data / f"heic-{args.count}")
    raws = raw_twins(tuple(jpegs), args.data / f"raw-{args.count}")
    sets = {"jpeg": jpegs, "heic": heics, "raw": raws}
    runs: dict[str, dict[str, list[float]]] = {k: {"decode": [], "classify": []} for k in sets}
    loads = []
    models = load_models(threads=DaemonConfig().inference_threads)
    with daemon_classifier(models) as classifier:
        for files in sets.values():
            run_ours(classifier, files[:2], "camera")  # warm up
        for _ in range(args.repeats):
            loads.append(load_average())
            for kind, files in sets.items():
                runs[kind]["decode"].append(len(files) / timed(lambda f=files: decode_all(f)).wall)
                runs[kind]["classify"].append(len(files) / timed(
                    lambda f=files: run_ours(classifier, f, "camera")).wall)
    results = {
        "photos": args.count,
        "mean_mb": {k: round(sum(p.stat().st_size for p in v) / len(v) / 1e6, 2)
                    for k, v in sets.items()},
        "photos_per_s": {k: {stage: round(median(v), 2) for stage, v in r.items()}
                         for k, r in runs.items()},
        "runs": {k: {stage: [round(x, 2) for x in v] for stage, v in r.items()}
                 for k, r in runs.items()},
        "heic_vs_jpeg_classify": round(median(runs["heic"]["classify"])
                                       / median(runs["jpeg"]["classify"]), 2),
        "raw_vs_jpeg_classify": round(median(runs["raw"]["classify"])
                                      / median(runs["jpeg"]["classify"]), 2),
        "load_average_1min": loads,
    }
    print(json.dumps(results, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
