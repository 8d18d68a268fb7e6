"""Duplicates benchmark: `python -m bench.dupes [--quick] [--only accuracy|scale|lookalikes]`.

accuracy: transformations of ../shared/photos and the groups of ../shared/neardup (see
bench/dupes_accuracy.py); scale: 100,000 synthetic fingerprints (bench/dupes_scale.py);
lookalikes: what one arrival costs in a library of one app's screens (bench/dupes_lookalikes.py).
Prints the figures as JSON and writes them to bench/out/dupes.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections and print their figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.dupes", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer photos")
    parser.add_argument("--only", action="append", choices=("accuracy", "scale", "lookalikes"))
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "dupes.json")
    args = parser.parse_args(argv)
    sections = args.only or ["accuracy", "scale", "lookalikes"]
    results: dict[str, object] = {}
    if "accuracy" in sections:
        from bench import dupes_accuracy

        if not (dupes_accuracy.SHARED / "photos").is_dir():
            print("../shared/photos is absent: accuracy skipped", file=sys.stderr)
        else:
            results["transformations"] = dupes_accuracy.transformations_figures(
                40 if args.quick else 200)
            print(json.dumps(results["transformations"], indent=1), flush=True)
            results["labelled_photos"] = dupes_accuracy.labelled_photos_figures()
            print(json.dumps(results["labelled_photos"], indent=1), flush=True)
        if (dupes_accuracy.SHARED / "neardup").is_dir():
            results["neardup"] = dupes_accuracy.neardup_figures()
            print(json.dumps(results["neardup"], indent=1), flush=True)
    if "scale" in sections:
        from bench import dupes_scale

        results["scale"] = dupes_scale.scale_figures(10_000 if args.quick else 100_000)
        print(json.dumps(results["scale"], indent=1), flush=True)
    if "lookalikes" in sections:
        from bench import dupes_lookalikes

        results["lookalikes"] = dupes_lookalikes.lookalike_figures(300 if args.quick else 1500)
        print(json.dumps(results["lookalikes"], indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
