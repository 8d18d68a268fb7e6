"""Placement: where an analysed photo goes — the confidence threshold and the folder layout.

The one decision between the engine's answer and the library's action: move, copy or tag it
under its category, or leave it where it is when the engine is unsure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from xintud.config.schema import Config, fill_layout, relative_folder_problem
from xintud.core.facts import Analysis
from xintud.library.review import REVIEW_FOLDER


@dataclass(frozen=True)
class Placement:
    """What to do with one analysed photo."""

    action: str  # "move" | "copy" | "tag" | "leave"
    category: str
    dst_dir: Path | None
    note: str = ""


def photo_time(analysis: Analysis, path: Path) -> datetime:
    """When the photo was taken (EXIF), else the file's modification time."""
    taken = analysis.evidence.metadata.taken_at
    if taken:
        try:
            return datetime.fromisoformat(taken)
        except ValueError:
            pass
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return datetime.now()


def place(config: Config, analysis: Analysis, path: Path) -> Placement:
    """Apply the confidence threshold and the layout to one analysis."""
    library = config.library
    category = analysis.category
    if analysis.confidence < library.min_confidence:
        note = (f"{category} {analysis.confidence:.2f} is below min_confidence "
                f"{library.min_confidence:.2f}")
        if library.below_threshold == "leave":
            return Placement("leave", category, None, note)
        category = "other"
    if library.action == "tag":
        return Placement("tag", category, None)
    relative = render_layout(config, category, photo_time(analysis, path))
    return Placement(library.action, category, library.root / relative)


def render_layout(config: Config, category: str, when: datetime) -> PurePosixPath:
    """The folder under library.root for a photo of this category taken at `when`.

    E.g. "Food/2026/11" for the default layout. Raises ValueError for an unknown category;
    the result never leaves the library root (checked again here, not only at load).
    """
    if category not in config.categories:
        raise ValueError(f"unknown category {category!r}; valid: "
                         f"{', '.join(config.categories)}")
    text = fill_layout(config.library.layout, config.categories[category].folder,
                        category, when)
    problem = relative_folder_problem(text)
    if problem is not None:
        raise ValueError(f"library.layout rendered for {category!r} {problem}")
    return PurePosixPath(text)


_DATE_PATTERNS = {"year": r"\d{4}", "month": r"\d{2}", "day": r"\d{2}"}


def category_of_folder(config: Config, path: Path) -> str | None:
    """The category whose folder (by the layout) a file in the library sits in: the inverse
    of render_layout, to read a user's move between category folders as a correction. Only
    the layout's folders up to the category's count (`Pets/x.jpg` is in Pets whatever the
    date folders); None outside the library, in the review folder, or in no category's folder.
    """
    root = config.library.root
    try:
        folders = path.relative_to(root).parts[:-1]
    except ValueError:
        return None
    if not folders or folders[0] == REVIEW_FOLDER:
        return None
    for category, settings in config.categories.items():
        parts = _category_prefix(config.library.layout, settings.folder, category)
        if parts and len(folders) >= len(parts) and all(
                re.fullmatch(part, folder) for part, folder in zip(parts, folders, strict=False)):
            return category
    return None


def _category_prefix(layout: str, folder: str, category: str) -> list[str]:
    """The layout's folders up to the last one naming the category, as patterns."""
    pieces = layout.split("/")
    last = max((i for i, piece in enumerate(pieces) if "{category" in piece), default=-1)
    if last < 0:
        return []
    values = {"category": re.escape(folder), "category_id": re.escape(category),
              **_DATE_PATTERNS}
    prefix = "/".join(re.sub(r"[^{}]+", lambda m: re.escape(m.group(0)), piece)
                      for piece in pieces[:last + 1])
    return prefix.format_map(values).split("/")
