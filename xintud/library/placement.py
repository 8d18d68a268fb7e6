"""Placement: where an analysed photo goes — the confidence threshold and the folder layout.

The one decision between the engine's answer and the library's action: move, copy or tag it
under its category, or leave it where it is when the engine is unsure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from xintud.config.schema import Config, fill_layout, relative_folder_problem
from xintud.core.categories import category_by_id
from xintud.core.facts import Analysis


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
    category_by_id(category)
    text = fill_layout(config.library.layout, config.categories[category].folder,
                        category, when)
    problem = relative_folder_problem(text)
    if problem is not None:
        raise ValueError(f"library.layout rendered for {category!r} {problem}")
    return PurePosixPath(text)
