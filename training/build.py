"""Rebuild everything in models/ with one command.

    pip install -e '.[train-backbone,train-detector,train-text]'
    pip install --no-deps timm==1.0.31     # only its ImageNet label files are read
    pip install --no-deps facenet-pytorch==2.6.0   # its MTCNN weights (it pins an old torch)
    python -m training.build

Steps, each a module of its own that can also run alone (``python -m training.<step>``):
1. export_backbone — EfficientNet-Lite0 → backbone.onnx + backbone-int8.onnx, parity-checked
   against PyTorch, ImageNet-scored; imagenet_labels.json.
2. export_detector — SSD-MobileNetV2-COCO frozen graph → detector.onnx (+ int8) with tf2onnx,
   verified against TensorFlow; coco_labels.json.
3. slim_graphs — the int8 graphs rewritten to compute the same outputs faster (uint8 padding
   in the backbone, one multi-class NMS in the detector), checked output for output.
4. faces — MTCNN's P-, R- and O-net from facenet-pytorch's weights → faces-*.onnx, parity-
   checked against PyTorch and the numpy pipeline against facenet-pytorch's detect_face.
5. text — PP-OCRv4's text detector copied from rapidocr-onnxruntime's wheel → text.onnx,
   checked against rapidocr's own detector.
6. train_head — features over ../shared/photos, nested grouped CV and by source held out,
   head-glance.npz, head.npz and head-text.npz.
7. make_manifest — manifest.json (sha256, contracts, provenance, accuracy) and MODEL_CARD.md.

The models are deterministic for fixed inputs and versions, so an unchanged rebuild leaves the
files byte-identical and git shows no change.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from training.common import DEFAULT_PHOTOS, MODELS, REPO


def run(step: str, *args: str) -> None:
    """Run one step as ``python -m training.<step>`` with this interpreter; stop if it fails.

    Each step runs in a process of its own, as it would alone: torch and TensorFlow are never
    loaded into one interpreter, and a step's memory is given back before the next starts.
    """
    command = [sys.executable, "-m", f"training.{step}", *args]
    print("==>", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)


def main() -> int:
    """Run the steps in order."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(DEFAULT_PHOTOS))
    parser.add_argument("--skip-detector", action="store_true",
                        help="keep the current detector files (no TensorFlow needed)")
    args = parser.parse_args()
    models = str(MODELS)
    run("export_backbone", "--out", models, "--photos", args.photos)
    if not args.skip_detector:
        run("export_detector", "--out", models, "--photos", args.photos)
    run("slim_graphs", "--models", models, "--photos", args.photos)
    run("faces", "--out", models, "--photos", args.photos)
    run("text", "--out", models, "--photos", args.photos)
    run("train_head", "--photos", args.photos, "--models", models, "--out", models)
    run("make_manifest", "--models", models)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
