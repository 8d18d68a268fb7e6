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
    ort = pytest.importorskip("onnxruntime")
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
