"""The object detector, SSD-MobileNetV2-COCO: people, pets, food and tableware, with boxes.

Owns its pre-processing (the whole picture squashed to 300x300, uint8) and post-processing
(score threshold, boxes as image fractions, COCO class names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from xintud.core.facts import Detection
from xintud.engine.models.contract import checked_names
from xintud.engine.models.manifest import ModelFile

if TYPE_CHECKING:
    import onnxruntime as ort

DETECTOR_SIZE = 300  # SSD-MobileNetV2 resizes to 300x300 inside; feeding that size saves work
DETECTION_MIN_SCORE = 0.3


def detector_input(image: Image.Image) -> np.ndarray:
    """The whole picture squashed to 300x300, uint8 HWC RGB."""
    resized = image.resize((DETECTOR_SIZE, DETECTOR_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


class Detector:
    """One onnxruntime session of the detector, run with the manifest's input/output names."""

    def __init__(self, session: ort.InferenceSession, contract: ModelFile,
                 coco_names: dict[int, str]) -> None:
        self._session = session
        self._input, outputs = checked_names(session, contract)
        # The manifest lists the outputs in this order: boxes, classes, scores, count.
        self._outputs = outputs[:4]
        self.coco_names = coco_names

    def detect(self, picture: np.ndarray) -> list[Detection]:
        """COCO detections above DETECTION_MIN_SCORE for one uint8 HWC picture."""
        boxes, classes, scores, count = self._session.run(self._outputs,
                                                          {self._input: picture[None]})
        found = []
        for i in range(int(count[0])):
            score = float(scores[0, i])
            if score < DETECTION_MIN_SCORE:
                continue
            ymin, xmin, ymax, xmax = (round(float(v), 4) for v in boxes[0, i])
            class_id = int(classes[0, i])
            label = self.coco_names.get(class_id, f"class{class_id}")
            found.append(Detection(label=label, score=round(score, 4),
                                   box=(xmin, ymin, xmax, ymax)))
        return found
