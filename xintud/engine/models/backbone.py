"""The backbone, EfficientNet-Lite0: a picture → 1280-d embedding and ImageNet-1k probabilities.

Owns its pre-processing (ImageNet centre crop and the squashed full view, uint8 HWC: the graph
normalises) and its post-processing (softmax, the top ImageNet labels by name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from xintud.core.facts import ImageNetGuess
from xintud.engine.head import softmax
from xintud.engine.models.contract import checked_names
from xintud.engine.models.manifest import ModelFile

if TYPE_CHECKING:
    import onnxruntime as ort

BACKBONE_SIZE = 224
BACKBONE_RESIZE = 256  # ImageNet evaluation: short side 256, centre crop 224
TOP_IMAGENET = 5


def backbone_input(image: Image.Image) -> np.ndarray:
    """Short side to 256, centre crop 224, as uint8 HWC RGB (the graph normalises).

    Resized straight from the crop's source square (Pillow's box=): the same pixels as resizing
    the whole picture and cutting, without resizing the parts the crop throws away.
    """
    side = min(image.size) * BACKBONE_SIZE / BACKBONE_RESIZE
    left, top = (image.width - side) / 2, (image.height - side) / 2
    crop = image.resize((BACKBONE_SIZE, BACKBONE_SIZE), Image.Resampling.BILINEAR,
                        box=(left, top, left + side, top + side))
    return np.asarray(crop, dtype=np.uint8)


def full_view_input(image: Image.Image) -> np.ndarray:
    """The whole picture squashed to 224x224: people and things at the edges stay in view."""
    resized = image.resize((BACKBONE_SIZE, BACKBONE_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


class Backbone:
    """One onnxruntime session of the backbone, run with the manifest's input/output names."""

    def __init__(self, session: ort.InferenceSession, contract: ModelFile,
                 wnids: tuple[str, ...], names: tuple[str, ...]) -> None:
        self._session = session
        self._input, outputs = checked_names(session, contract)
        # The manifest lists the outputs in the order the code means them: embedding, logits.
        self._outputs = outputs[:2]
        self.wnids = wnids
        self.names = names

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings [N,1280] and ImageNet probabilities [N,1000] for a uint8 NHWC batch."""
        embedding, logits = self._session.run(self._outputs, {self._input: batch})
        return embedding.astype(np.float32), softmax(logits.astype(np.float32))

    def top_imagenet(self, probs: np.ndarray) -> list[ImageNetGuess]:
        """The TOP_IMAGENET most likely ImageNet classes, best first."""
        order = np.argsort(-probs)[:TOP_IMAGENET]
        return [ImageNetGuess(wnid=self.wnids[i], label=self.names[i],
                              p=round(float(probs[i]), 4)) for i in order]
