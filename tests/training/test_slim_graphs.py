"""training/slim_graphs.py: rewrites keep outputs exact; the shipped models are slim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is only in the training extras")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import training.slim_graphs as slim  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
pytestmark = pytest.mark.training


def qdq_pad_model(zero_point: int, scale: float) -> onnx.ModelProto:
    """x (uint8) → DequantizeLinear → zero Pad → QuantizeLinear → DequantizeLinear → y."""
    inits = [
        numpy_helper.from_array(np.array(scale, np.float32), "s"),
        numpy_helper.from_array(np.array(zero_point, np.uint8), "zp"),
        numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64), "pads"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "s", "zp"], ["xf"], name="dq"),
        helper.make_node("Pad", ["xf", "pads"], ["pf"], name="pad", mode="constant"),
        helper.make_node("QuantizeLinear", ["pf", "s", "zp"], ["pq"], name="q"),
        helper.make_node("DequantizeLinear", ["pq", "s", "zp"], ["y"], name="dq2"),
    ]
    graph = helper.make_graph(
        nodes, "pad", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 2, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort  # a runtime dependency: its absence is a failure, not a skip

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_float_pad_becomes_a_uint8_pad_with_the_same_output() -> None:
    model = qdq_pad_model(zero_point=127, scale=0.5)
    x = np.random.default_rng(0).integers(0, 256, (1, 2, 3, 3), dtype=np.uint8)
    want = run(model, x)
    assert slim.pad_in_uint8(model) == 1
    ops = [node.op_type for node in model.graph.node]
    assert ops == ["Pad", "DequantizeLinear"], ops
    np.testing.assert_array_equal(run(model, x), want)


def test_pad_between_different_quantisations_is_left_alone() -> None:
    model = qdq_pad_model(zero_point=127, scale=0.5)
    q = next(node for node in model.graph.node if node.name == "q")
    model.graph.initializer.append(numpy_helper.from_array(np.array(0.25, np.float32), "s2"))
    q.input[1] = "s2"
    assert slim.pad_in_uint8(model) == 0


def test_shipped_models_are_slim() -> None:
    backbone = onnx.load(str(MODELS / slim.BACKBONE_FILE))
    detector = onnx.load(str(MODELS / slim.DETECTOR_FILE))
    assert slim.float_pads(backbone.graph) == [], "run python -m training.slim_graphs"
    assert not slim.has_loop_postprocessor(detector.graph), "run python -m training.slim_graphs"
    assert {n.op_type for n in detector.graph.node} >= {"NonMaxSuppression", "TopK"}


# --- detector: the NMS settings are found by structure ------------------------------------------

SCOPE = slim.NMS_SCOPE


def nms_loop_model(max_sources: tuple[str | None, ...] = ("Minimum_41/x:0",),
                   max_values: tuple[int, ...] = (100,)) -> onnx.ModelProto:
    """A detector whose outputs come from a Loop shaped like tf2onnx's conversion of TensorFlow's
    per-class NMS: per class, NonMaxSuppression(max = Cast(Min(constant, boxes)), iou constant),
    the score threshold in FilterGreaterThan. The body is only read, never run. A source of None
    makes that class's Min take two computed tensors (no constant).
    """
    body_inits = [
        numpy_helper.from_array(np.array(0.6, np.float32),
                                SCOPE + "non_max_suppression_24/iou_threshold:0"),
        numpy_helper.from_array(np.array(0.3, np.float32),
                                SCOPE + "FilterGreaterThan_38/Greater/y:0"),
    ]
    body_nodes = [
        helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        helper.make_node("Cast", ["i"], ["n"], to=TensorProto.INT32),
        helper.make_node("Identity", [slim.DECODED_BOXES], ["b"]),
        helper.make_node("Identity", [slim.CLASS_SCORES], ["s"]),
    ]
    for k, (source, value) in enumerate(zip(max_sources, max_values, strict=True)):
        if source is None:
            constant = "n"
        else:
            constant = SCOPE + source
            if constant not in {init.name for init in body_inits}:
                body_inits.append(numpy_helper.from_array(np.array(value, np.int32), constant))
        body_nodes += [
            helper.make_node("Min", [constant, "n"], [f"{SCOPE}Minimum_{k}:0"],
                             name=f"{SCOPE}Minimum_{k}"),
            helper.make_node("Cast", [f"{SCOPE}Minimum_{k}:0"],
                             [f"{SCOPE}non_max_suppression_{k}/NonMaxSuppressionV2__{k}:0"],
                             to=TensorProto.INT64),
            helper.make_node("NonMaxSuppression", [
                "b", "s", f"{SCOPE}non_max_suppression_{k}/NonMaxSuppressionV2__{k}:0",
                SCOPE + "non_max_suppression_24/iou_threshold:0"], [f"selected_{k}"],
                name=f"NonMaxSuppression__{k}"),
        ]
    body_nodes += [helper.make_node("Identity", ["b"], [f"scan_{j}"]) for j in range(4)]
    body = helper.make_graph(
        body_nodes, "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         *(helper.make_tensor_value_info(f"scan_{j}", TensorProto.FLOAT, None)
           for j in range(4))],
        body_inits)
    loop = helper.make_node("Loop", ["trips", ""], list(slim.DETECTOR_OUTPUTS), body=body,
                            name="generic_loop_Loop__51")
    graph = helper.make_graph(
        [loop], "detector",
        [helper.make_tensor_value_info(slim.DECODED_BOXES, TensorProto.FLOAT, [None, None, 1, 4]),
         helper.make_tensor_value_info(slim.CLASS_SCORES, TensorProto.FLOAT, [None, None, None])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in zip(
            slim.DETECTOR_OUTPUTS, ([None, 100, 4], [None, 100], [None, 100], [None]),
            strict=True)],
        [numpy_helper.from_array(np.array(1, np.int64), "trips")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


TF_SETTINGS = slim.NmsSettings(score_threshold=float(np.float32(0.3)),
                               iou_threshold=float(np.float32(0.6)), max_per_class=100)


@pytest.mark.parametrize("source", ["Minimum_90/x:0", "Minimum_41/x:0", "Minimum/x:0",
                                    "renamed_by_some_other_converter:0"])
def test_nms_settings_do_not_depend_on_which_merged_constant_name_tf2onnx_kept(
        source: str) -> None:
    model = nms_loop_model(max_sources=(source, source, source), max_values=(100, 100, 100))
    assert slim.nms_settings(model.graph) == TF_SETTINGS


def test_nms_loop_becomes_one_nms_that_keeps_tensorflows_settings() -> None:
    model = nms_loop_model(max_sources=("Minimum_41/x:0",) * 2, max_values=(100, 100))
    assert slim.has_loop_postprocessor(model.graph)
    assert slim.replace_postprocessor(model) == TF_SETTINGS
    assert not slim.has_loop_postprocessor(model.graph)
    values = slim.constant_values(model.graph)
    assert values[slim.PREFIX + "max_per_class"].tolist() == [100]
    # Anchors 0 and 1 overlap (IoU > 0.6), anchor 2 is apart; class 0 keeps anchor 0 only
    # (anchor 2's 0.1 is under the threshold), class 1 keeps anchor 2 only.
    boxes = np.array([[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.52], [0.5, 0.5, 1, 1]], np.float32)
    scores = np.array([[0.9, 0.2], [0.8, 0.1], [0.1, 0.7]], np.float32)
    import onnxruntime as ort  # a runtime dependency: its absence is a failure, not a skip

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    out_boxes, classes, out_scores, count = session.run(
        list(slim.DETECTOR_OUTPUTS),
        {slim.DECODED_BOXES: boxes[None, :, None, :], slim.CLASS_SCORES: scores[None]})
    assert count.tolist() == [2]
    np.testing.assert_allclose(out_scores[0, :3], [0.9, 0.7, 0.0])
    assert classes[0, :3].tolist() == [1, 2, 1]  # TensorFlow's numbering; padding is 1
    np.testing.assert_array_equal(out_boxes[0, :3], [boxes[0], boxes[2], np.zeros(4)])


def test_nms_settings_refuse_classes_that_keep_different_numbers_of_boxes() -> None:
    model = nms_loop_model(max_sources=("Minimum_3/x:0", "Minimum_7/x:0"), max_values=(100, 50))
    with pytest.raises(SystemExit, match=r"one max_size_per_class .* found \[50\.0, 100\.0\]"):
        slim.nms_settings(model.graph)


def test_nms_settings_refuse_a_max_that_is_not_min_of_a_constant() -> None:
    model = nms_loop_model(max_sources=(None,), max_values=(0,))
    with pytest.raises(SystemExit, match="max_output_boxes_per_class .* traced .*Minimum_0"):
        slim.nms_settings(model.graph)


def test_nms_settings_refuse_a_graph_without_tensorflows_nms() -> None:
    model = nms_loop_model(max_sources=(), max_values=())
    with pytest.raises(SystemExit, match="no NonMaxSuppression node reads from Postprocessor/"):
        slim.nms_settings(model.graph)
