"""The development photos the text step measures on, grouped by what writing they should show."""

from __future__ import annotations

import re
from pathlib import Path

from training.common import read_photo_manifest

# `other` photos that are receipts, documents and notes, by what their manifest row says.
DOCUMENT = re.compile(r"receipt|document|notes|notepad|tax form|chart", re.IGNORECASE)
PHOTO_GROUPS = ("screenshot", "documents", "other", "travel", "food", "pets")


def photo_groups(photos: Path, step: int = 1) -> dict[str, list[Path]]:
    """Photo paths per group: screenshot; documents (receipts, documents, notes among
    `other`); the rest of `other`; travel, food and pets. Every `step`-th photo of the
    groups that are not text-rich (other, travel, food, pets), all of the others."""
    groups: dict[str, list[Path]] = {name: [] for name in PHOTO_GROUPS}
    for row in read_photo_manifest(photos):
        category = row["category"]
        if category == "other" and DOCUMENT.search(row["label_basis"] + row["note"]):
            category = "documents"
        if category in groups:
            groups[category].append(photos / row["file"])
    return {name: paths if name in ("screenshot", "documents") else paths[::step]
            for name, paths in groups.items()}
