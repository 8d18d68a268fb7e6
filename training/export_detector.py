"""Step 2 of ``python -m training.build``: the COCO detector (SSD-MobileNetV2) → ONNX, verified
against TensorFlow, quantized to int8, reported. The work is in training.detector.

    python -m training.export_detector --out models/

Needs the ``train-detector`` extras for the conversion; ``--help`` works without them.
"""

from __future__ import annotations

import sys

from training.detector.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
