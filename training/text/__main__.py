"""``python -m training.text --out DIR``: the text detector and its report (see pipeline.py)."""

from __future__ import annotations

import sys

from training.text.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
