"""Rebuild everything in models/ with one command.

    pip install -e '.[train-backbone,train-detector]'
    pip install --no-deps timm==1.0.31     # only its ImageNet label files are read
    python training/build.py

Steps, each a script of its own that can also run alone:
1. export_backbone.py — EfficientNet-Lite0 → backbone.onnx + backbone-int8.onnx, parity-checked
   against PyTorch, ImageNet-scored; imagenet_labels.json.
2. export_detector.py — SSD-MobileNetV2-COCO frozen graph → detector.onnx (+ int8) with tf2onnx,
   verified against TensorFlow; coco_labels.json.
3. slim_graphs.py — the int8 graphs rewritten to compute the same outputs faster (uint8 padding
   in the backbone, one multi-class NMS in the detector), checked output for output.
4. train_head.py — features over ../shared/photos, nested grouped CV, head.npz.
5. make_manifest.py — manifest.json (sha256, contracts, provenance, accuracy) and MODEL_CARD.md.

The models are deterministic for fixed inputs and versions, so an unchanged rebuild leaves the
files byte-identical and git shows no change.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def run(script: str, *args: str) -> None:
    """Run one step with this interpreter; stop the build if it fails."""
    command = [sys.executable, str(HERE / script), *args]
    print("==>", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)


def main() -> int:
    """Run the steps in order."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(REPO.parent / "shared" / "photos"))
    parser.add_argument("--skip-detector", action="store_true",
                        help="keep the current detector files (no TensorFlow needed)")
    args = parser.parse_args()
    models = str(REPO / "models")
    run("export_backbone.py", "--out", models, "--photos", args.photos)
    if not args.skip_detector:
        run("export_detector.py", "--out", models, "--photos", args.photos)
    run("slim_graphs.py", "--models", models, "--photos", args.photos)
    run("train_head.py", "--photos", args.photos, "--models", models)
    run("make_manifest.py", "--models", models)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
