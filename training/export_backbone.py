"""Step 1 of ``python -m training.build``: EfficientNet-Lite0 → backbone.onnx and
backbone-int8.onnx, parity-checked against PyTorch and ImageNet-scored; imagenet_labels.json.
The work is in training.backbone.

    python -m training.export_backbone --out models/
"""

from __future__ import annotations

import sys

from training.backbone.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
