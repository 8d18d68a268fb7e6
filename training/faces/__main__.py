"""``python -m training.faces --out DIR``: export and check the MTCNN face nets."""

from __future__ import annotations

import sys

from training.faces.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
