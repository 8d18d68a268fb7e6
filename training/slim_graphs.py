"""Rewrite the shipped int8 models into graphs that compute the same outputs, faster.

    python -m training.slim_graphs --models models/

Run after export_backbone / export_detector and before make_manifest. Two rewrites,
each checked output for output against the graph it replaces before anything is written:

1. Backbone: the QDQ quantizer leaves EfficientNet's explicit zero padding in float —
   DequantizeLinear → Pad → QuantizeLinear with one scale and zero point — on the largest
   activations. Padding the uint8 tensor with its zero point is exactly the same, without two
   conversions and a float copy (a third of the backbone's time and most of its memory).
2. Detector: tf2onnx turns TensorFlow's per-class NMS into a Loop over 90 unrolled classes
   (~5,400 nodes); onnxruntime spends longer dispatching them than the whole network takes.
   They are replaced by one multi-class NonMaxSuppression and a TopK with TensorFlow's settings
   read from the graph (score > 0.3, IoU 0.6, 100 per class, 100 in all), the same clipping to
   the image window, and the same padded outputs (boxes 0, scores 0, classes 1).

Input names, output names, shapes and dtypes stay as they were. A graph already rewritten is
left alone. Never imported by the daemon.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from training.common import (
    DEFAULT_PHOTOS,
    MODELS,
    REPORTS,
    load_rgb,
    ort_session,
    photo_files,
    squashed,
    striped_noise,
    write_json,
)

DEFAULT_REPORT = REPORTS / "slim.json"

BACKBONE_FILE = "backbone-int8.onnx"
DETECTOR_FILE = "detector-int8.onnx"
DETECTOR_INPUT = "image_tensor:0"
DETECTOR_OUTPUTS = ("detection_boxes:0", "detection_classes:0", "detection_scores:0",
                    "num_detections:0")
# What the network hands to TensorFlow's postprocessor: decoded boxes [N, anchors, 1, 4]
# (ymin, xmin, ymax, xmax) and sigmoid class scores without the background [N, anchors, 90].
DECODED_BOXES = "Postprocessor/ExpandDims_1:0"
CLASS_SCORES = "Postprocessor/Slice:0"
NMS_SCOPE = "Postprocessor/BatchMultiClassNonMaxSuppression/map/while/MultiClassNonMaxSuppression/"
MAX_TOTAL_DETECTIONS = 100  # the outputs' fixed length
PREFIX = "slim/"

# Outputs must agree to float noise; detections must be the same ones.
MAX_ABS_DIFF = 1e-5


# --- graph helpers ------------------------------------------------------------------------------


def attribute(node: onnx.NodeProto, name: str, default: object = None) -> object:
    """A node attribute's value, or default."""
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def subgraph_inputs(node: onnx.NodeProto) -> Iterator[str]:
    """Every tensor name read inside a node's subgraphs (Loop/If bodies), recursively."""
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            for inner in attr.g.node:
                yield from inner.input
                yield from subgraph_inputs(inner)


def prune(graph: onnx.GraphProto) -> None:
    """Drop nodes, initializers and value_info that no graph output depends on."""
    producers = {out: node for node in graph.node for out in node.output}
    needed: set[int] = set()
    stack = [out.name for out in graph.output]
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        node = producers.get(name)
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(node.input)
        stack.extend(subgraph_inputs(node))
    kept = [node for node in graph.node if id(node) in needed]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in kept for name in (*node.input, *subgraph_inputs(node))}
    initializers = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    produced = {out for node in kept for out in node.output}
    infos = [info for info in graph.value_info if info.name in produced]
    del graph.value_info[:]
    graph.value_info.extend(infos)


def constant_values(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Initializer values by name, including those of Loop/If bodies."""
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                values.update(constant_values(attr.g))
    return values


# --- backbone: pad the uint8 tensor -----------------------------------------------------------


@dataclass(frozen=True)
class _QdqPad:
    dequantize: onnx.NodeProto
    pad: onnx.NodeProto
    quantize: onnx.NodeProto
    zero_point: np.ndarray


def float_pads(graph: onnx.GraphProto) -> list[_QdqPad]:
    """DequantizeLinear → zero Pad → QuantizeLinear chains with one scale and zero point."""
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    values = constant_values(graph)
    found = []
    for pad in (n for n in graph.node if n.op_type == "Pad"):
        dq = producers.get(pad.input[0])
        users = consumers[pad.output[0]]
        if dq is None or dq.op_type != "DequantizeLinear" or len(users) != 1:
            continue
        q = users[0]
        if q.op_type != "QuantizeLinear" or attribute(pad, "mode", b"constant") != b"constant":
            continue
        if len(pad.input) > 3 and pad.input[3]:
            continue  # explicit axes: not produced by the exporter, not handled here
        if len(pad.input) > 2 and pad.input[2] and np.any(values[pad.input[2]] != 0):
            continue
        scales = values.get(dq.input[1]), values.get(q.input[1])
        points = values.get(dq.input[2]), values.get(q.input[2])
        if any(v is None or v.size != 1 for v in (*scales, *points)):
            continue
        if scales[0] != scales[1] or points[0] != points[1] or points[0].dtype != np.uint8:
            continue
        found.append(_QdqPad(dq, pad, q, points[0]))
    return found


def pad_in_uint8(model: onnx.ModelProto) -> int:
    """Rewrite every float_pads chain as a uint8 Pad with the zero point; returns how many."""
    graph = model.graph
    chains = float_pads(graph)
    for chain in chains:
        zero_name = f"{PREFIX}{chain.pad.name}/zero_point"
        graph.initializer.append(numpy_helper.from_array(
            np.asarray(chain.zero_point, dtype=np.uint8).reshape(()), zero_name))
        pads = chain.pad.input[1]
        del chain.pad.input[:]
        chain.pad.input.extend([chain.dequantize.input[0], pads, zero_name])
        chain.pad.output[0] = chain.quantize.output[0]
        graph.node.remove(chain.quantize)
    prune(graph)
    return len(chains)


# --- detector: one multi-class NMS ------------------------------------------------------------


@dataclass(frozen=True)
class NmsSettings:
    """TensorFlow's batch_multiclass_non_max_suppression settings, read from the graph."""

    score_threshold: float
    iou_threshold: float
    max_per_class: int


# Ops passing input 0 on unchanged, as tf2onnx's Cast between Min and NonMaxSuppression does.
_PASS_THROUGH = frozenset({"Cast", "Identity", "Reshape", "Squeeze", "Unsqueeze"})


def all_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """Every node of a graph and of its Loop/If bodies, recursively."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from all_nodes(attr.g)


def nms_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """TensorFlow's per-class NonMaxSuppression nodes: those reading tensors of NMS_SCOPE."""
    return [node for node in all_nodes(graph) if node.op_type == "NonMaxSuppression"
            and any(name.startswith(NMS_SCOPE) for name in node.input)]


def _max_per_class_source(name: str, producers: dict[str, onnx.NodeProto],
                          values: dict[str, np.ndarray]) -> str:
    """The constant in min(max_size_per_class, boxes) that feeds max_output_boxes_per_class."""
    seen = [name]
    node = producers.get(name)
    while node is not None and node.op_type in _PASS_THROUGH:
        name = node.input[0]
        seen.append(name)
        node = producers.get(name)
    constants = [i for i in (node.input if node else [name]) if i in values and values[i].size == 1]
    if len(constants) == 1 and (node is None or node.op_type == "Min"):
        return constants[0]  # node None: min() folded into the constant
    found = (f"{node.op_type} {node.name} with {len(constants)} scalar constant inputs" if node
             else f"{name}, neither a constant nor a node's output")
    raise SystemExit(f"max_output_boxes_per_class of a NonMaxSuppression in {NMS_SCOPE}* is not "
                     f"min(constant, boxes): traced {' <- '.join(seen)} to {found}")


def _one_setting(found: dict[float, str], what: str, count: int) -> float:
    if len(found) != 1:
        raise SystemExit(f"expected one {what} across the {count} NonMaxSuppression nodes of "
                         f"{NMS_SCOPE}*, found {sorted(found)} (from {sorted(found.values())})")
    return next(iter(found))


def nms_settings(graph: onnx.GraphProto) -> NmsSettings:
    """The postprocessor's thresholds, as the converted TensorFlow graph holds them: found by
    structure, as tf2onnx merges identical constants under a name that differs from run to run.
    """
    values = constant_values(graph)
    nodes = nms_nodes(graph)
    if not nodes:
        raise SystemExit(f"no NonMaxSuppression node reads from {NMS_SCOPE}*: "
                         "not TensorFlow's per-class NMS")
    producers = {out: node for node in all_nodes(graph) for out in node.output}
    iou: dict[float, str] = {}
    max_per_class: dict[float, str] = {}
    for node in nodes:
        iou_name = node.input[3] if len(node.input) > 3 else ""
        if iou_name not in values or values[iou_name].size != 1 or any(node.input[4:]):
            raise SystemExit(f"{node.name} in {NMS_SCOPE}*: wants a constant iou_threshold and no "
                             f"score_threshold (TensorFlow filters first), has {list(node.input)}")
        iou.setdefault(float(values[iou_name]), iou_name)
        source = _max_per_class_source(node.input[2], producers, values)
        max_per_class.setdefault(float(values[source]), source)
    return NmsSettings(
        score_threshold=_filter_threshold(values),
        iou_threshold=_one_setting(iou, "iou_threshold", len(nodes)),
        max_per_class=int(_one_setting(max_per_class, "max_size_per_class", len(nodes))),
    )


def _filter_threshold(values: dict[str, np.ndarray]) -> float:
    found = {float(v) for name, v in values.items()
             if name.startswith(NMS_SCOPE + "FilterGreaterThan") and v.size == 1}
    if len(found) != 1:
        raise SystemExit(f"expected one score threshold in the NMS scope, found {sorted(found)}")
    return found.pop()


def _const(graph: onnx.GraphProto, name: str, value: np.ndarray) -> str:
    full = PREFIX + name
    graph.initializer.append(numpy_helper.from_array(value, full))
    return full


def _node(graph: onnx.GraphProto, op: str, inputs: Sequence[str], outputs: Sequence[str] | int,
          **attrs: object) -> list[str]:
    names = ([f"{PREFIX}{op.lower()}_{len(graph.node)}_{i}" for i in range(outputs)]
             if isinstance(outputs, int) else list(outputs))
    graph.node.append(helper.make_node(op, list(inputs), names,
                                       name=f"{PREFIX}{op}_{len(graph.node)}", **attrs))
    return names


def has_loop_postprocessor(graph: onnx.GraphProto) -> bool:
    """True while the detector still computes its outputs with TensorFlow's NMS Loop."""
    producers = {out: node for node in graph.node for out in node.output}
    node = producers.get(DETECTOR_OUTPUTS[0])
    return node is not None and node.op_type == "Loop"


def replace_postprocessor(model: onnx.ModelProto) -> NmsSettings:
    """Swap the NMS Loop (and the nodes after it) for one NonMaxSuppression and a TopK."""
    graph = model.graph
    settings = nms_settings(graph)
    old = {out for node in graph.node for out in node.output if out in DETECTOR_OUTPUTS}
    if old != set(DETECTOR_OUTPUTS):
        raise SystemExit(f"detector outputs are not {DETECTOR_OUTPUTS}: {sorted(old)}")
    kept = [node for node in graph.node if not set(node.output) & set(DETECTOR_OUTPUTS)]
    del graph.node[:]
    graph.node.extend(kept)
    total = MAX_TOTAL_DETECTIONS
    i64, f32 = np.int64, np.float32

    # ClipToWindow with window [0, 0, 1, 1]: clip every coordinate, drop boxes left without area.
    (boxes,) = _node(graph, "Squeeze", [DECODED_BOXES, _const(graph, "axis2", np.array([2], i64))],
                     1)
    (clipped,) = _node(graph, "Clip", [boxes, _const(graph, "zero", np.array(0, f32)),
                                       _const(graph, "one", np.array(1, f32))], 1)
    ymin, xmin, ymax, xmax = _node(graph, "Split", [clipped, _const(
        graph, "split4", np.array([1, 1, 1, 1], i64))], 4, axis=2)
    (height,) = _node(graph, "Sub", [ymax, ymin], 1)
    (width,) = _node(graph, "Sub", [xmax, xmin], 1)
    (area,) = _node(graph, "Mul", [height, width], 1)
    (has_area,) = _node(graph, "Greater", [area, PREFIX + "zero"], 1)
    (keep,) = _node(graph, "Cast", [has_area], 1, to=TensorProto.FLOAT)
    (keep_t,) = _node(graph, "Transpose", [keep], 1, perm=[0, 2, 1])
    (scores_t,) = _node(graph, "Transpose", [CLASS_SCORES], 1, perm=[0, 2, 1])
    (scores,) = _node(graph, "Mul", [scores_t, keep_t], 1)  # [N, classes, anchors]

    # Per class: score > threshold, greedy NMS at the IoU threshold, at most max_per_class.
    (selected,) = _node(graph, "NonMaxSuppression", [
        clipped, scores,
        _const(graph, "max_per_class", np.array([settings.max_per_class], i64)),
        _const(graph, "iou_threshold", np.array([settings.iou_threshold], f32)),
        _const(graph, "score_threshold", np.array([settings.score_threshold], f32)),
    ], 1, center_point_box=0)  # [K, 3]: batch, class, anchor
    (sel_scores,) = _node(graph, "GatherND", [scores, selected], 1)  # [K]
    batch, klass, anchor = _node(graph, "Split", [selected, _const(
        graph, "split3", np.array([1, 1, 1], i64))], 3, axis=1)  # each [K, 1]
    (batch_anchor,) = _node(graph, "Concat", [batch, anchor], 1, axis=1)
    (sel_boxes,) = _node(graph, "GatherND", [clipped, batch_anchor], 1)  # [K, 4]
    (sel_class,) = _node(graph, "Squeeze", [klass, _const(graph, "axis1", np.array([1], i64))],
                         1)
    (sel_class_f,) = _node(graph, "Cast", [sel_class], 1, to=TensorProto.FLOAT)

    # Across classes, per image: the best `total`, padded: one row per image of all K
    # candidates (-1 where a candidate belongs to another image) plus `total` fillers.
    (shape,) = _node(graph, "Shape", [DECODED_BOXES], 1)
    (images,) = _node(graph, "Gather", [shape, _const(graph, "index0", np.array(0, i64))], 1,
                      axis=0)
    (image_ids,) = _node(graph, "Range", [PREFIX + "index0", images,
                                          _const(graph, "step1", np.array(1, i64))], 1)
    (image_col,) = _node(graph, "Unsqueeze", [image_ids, PREFIX + "axis1"], 1)  # [N, 1]
    (batch_row,) = _node(graph, "Transpose", [batch], 1, perm=[1, 0])  # [1, K]
    (member,) = _node(graph, "Equal", [image_col, batch_row], 1)  # [N, K]
    (score_row,) = _node(graph, "Unsqueeze", [sel_scores, _const(
        graph, "axis0", np.array([0], i64))], 1)
    minus_one = _const(graph, "minus_one", np.array(-1, f32))
    (dense,) = _node(graph, "Where", [member, score_row, minus_one], 1)  # [N, K]
    (filler_shape,) = _node(graph, "Concat", [
        _node(graph, "Unsqueeze", [images, PREFIX + "axis0"], 1)[0],
        _const(graph, "total", np.array([total], i64))], 1, axis=0)
    (filler,) = _node(graph, "Expand", [minus_one, filler_shape], 1)  # [N, total]
    (candidates,) = _node(graph, "Concat", [dense, filler], 1, axis=1)
    top_scores, top_index = _node(graph, "TopK", [candidates, PREFIX + "total"], 2, axis=1,
                                  largest=1, sorted=1)  # [N, total]
    (valid,) = _node(graph, "Greater", [top_scores, PREFIX + "zero"], 1)
    (valid_f,) = _node(graph, "Cast", [valid], 1, to=TensorProto.FLOAT)

    no_boxes = _const(graph, "no_boxes", np.zeros((total, 4), f32))
    no_classes = _const(graph, "no_classes", np.zeros((total,), f32))
    (all_boxes,) = _node(graph, "Concat", [sel_boxes, no_boxes], 1, axis=0)
    (all_classes,) = _node(graph, "Concat", [sel_class_f, no_classes], 1, axis=0)
    (picked_boxes,) = _node(graph, "Gather", [all_boxes, top_index], 1, axis=0)  # [N,total,4]
    (valid_col,) = _node(graph, "Unsqueeze", [valid_f, _const(
        graph, "axis2b", np.array([2], i64))], 1)
    _node(graph, "Mul", [picked_boxes, valid_col], [DETECTOR_OUTPUTS[0]])
    (picked_classes,) = _node(graph, "Gather", [all_classes, top_index], 1, axis=0)
    (live_classes,) = _node(graph, "Mul", [picked_classes, valid_f], 1)
    # TensorFlow numbers classes from 1 (0 is the background), padding included.
    _node(graph, "Add", [live_classes, PREFIX + "one"], [DETECTOR_OUTPUTS[1]])
    _node(graph, "Where", [valid, top_scores, PREFIX + "zero"], [DETECTOR_OUTPUTS[2]])
    _node(graph, "ReduceSum", [valid_f, PREFIX + "axis1"], [DETECTOR_OUTPUTS[3]], keepdims=0)
    prune(graph)
    onnx.checker.check_model(model)
    return settings


# --- verification -----------------------------------------------------------------------------


def photo_paths(photos: Path | None, limit: int) -> list[Path]:
    """Development photos to check on (every category), at most `limit`."""
    if photos is None or not photos.is_dir():
        return []
    files = photo_files(photos)
    step = max(1, len(files) // max(1, limit))
    return files[::step][:limit]


def photo_images(paths: Iterable[Path], size: tuple[int, int]) -> list[np.ndarray]:
    """Photos as the daemon feeds them: RGB, squashed to size."""
    return [squashed(load_rgb(path), *size) for path in paths]


def session(model: onnx.ModelProto) -> Any:
    """A single-threaded onnxruntime session for an in-memory model."""
    return ort_session(model.SerializeToString(), threads=1)


@dataclass
class Check:
    """How closely a rewritten graph matches the original."""

    images: int = 0
    max_abs_diff: float = 0.0
    mismatched_images: int = 0

    @property
    def passed(self) -> bool:
        """True when every image gave the same outputs."""
        return self.images > 0 and self.mismatched_images == 0


def compare_runs(before: onnx.ModelProto, after: onnx.ModelProto, input_name: str,
                 batches: Iterable[np.ndarray], names: Sequence[str]) -> Check:
    """Run both graphs on every batch; outputs must agree within MAX_ABS_DIFF."""
    old, new = session(before), session(after)
    check = Check()
    for batch in batches:
        want = old.run(list(names), {input_name: batch})
        got = new.run(list(names), {input_name: batch})
        diff = max(float(np.max(np.abs(a - b), initial=0.0)) if a.shape == b.shape else np.inf
                   for a, b in zip(want, got, strict=True))
        check.images += len(batch)
        check.max_abs_diff = max(check.max_abs_diff, diff)
        check.mismatched_images += int(diff > MAX_ABS_DIFF)
    return check


# --- main -------------------------------------------------------------------------------------


def slim_backbone(path: Path, photos: Path | None, limit: int) -> dict[str, object]:
    """Rewrite the backbone file in place when it still pads in float."""
    model = onnx.load(str(path))
    original = onnx.load(str(path))
    rewritten = pad_in_uint8(model)
    if not rewritten:
        return {"file": path.name, "rewritten": 0, "note": "already slim"}
    pictures = striped_noise([(224, 224)]) + photo_images(photo_paths(photos, limit), (224, 224))
    batches = [np.stack([a, b]) for a, b in zip(pictures[::2], pictures[1::2], strict=False)]
    batches = [p[None] for p in pictures[:2]] + batches  # batch sizes 1 and 2
    check = compare_runs(original, model, "image", batches, ["embedding", "logits"])
    if not check.passed:
        raise SystemExit(f"backbone rewrite changed the outputs: {check}")
    onnx.save(model, str(path))
    return {"file": path.name, "rewritten": rewritten, "check": asdict(check)}


def slim_detector(path: Path, photos: Path | None, limit: int) -> dict[str, object]:
    """Rewrite the detector file in place while it still uses TensorFlow's NMS Loop."""
    model = onnx.load(str(path))
    if not has_loop_postprocessor(model.graph):
        return {"file": path.name, "rewritten": 0, "note": "already slim"}
    original = onnx.load(str(path))
    settings = replace_postprocessor(model)
    drawn = striped_noise([(300, 300), (480, 640), (720, 360)])
    pictures = drawn + photo_images(photo_paths(photos, limit), (300, 300))
    batches = [p[None] for p in pictures]
    batches.append(np.stack(pictures[-3:]))  # the graph still takes batches: check one
    check = compare_runs(original, model, DETECTOR_INPUT, batches, DETECTOR_OUTPUTS)
    if not check.passed:
        raise SystemExit(f"detector rewrite changed the outputs: {check}")
    onnx.save(model, str(path))
    return {"file": path.name, "rewritten": 1, "nms": asdict(settings), "check": asdict(check)}


def main(argv: Sequence[str] | None = None) -> int:
    """Slim both models in --models, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=MODELS)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--limit", type=int, default=400,
                        help="at most this many development photos to check on")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    args = parser.parse_args(argv)
    photos = args.photos if args.photos.is_dir() else None
    report = {
        "backbone": slim_backbone(args.models / BACKBONE_FILE, photos, args.limit),
        "detector": slim_detector(args.models / DETECTOR_FILE, photos, args.limit),
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    if any(part.get("rewritten") for part in report.values()):
        write_json(args.report, report)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
