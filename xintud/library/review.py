"""The review folder inside the library, where photos are set aside for a person to look at —
never deleted: `_Review/Duplicates/<group>/` holds the non-best shots of a duplicates group.
"""

from __future__ import annotations

from pathlib import Path

REVIEW_FOLDER = "_Review"
DUPLICATES_FOLDER = "Duplicates"


def duplicates_folder(library_root: Path, group_id: str) -> Path:
    """Where the set-aside members of a group go."""
    if not group_id or "/" in group_id or group_id.startswith("."):
        raise ValueError(f"{group_id!r} is not a group id")
    return library_root / REVIEW_FOLDER / DUPLICATES_FOLDER / group_id


def is_in_review(path: Path, library_root: Path | None) -> bool:
    """True for a path inside the library's review folder (set aside, not filed by category)."""
    if library_root is None:
        return False
    try:
        relative = Path(path).relative_to(library_root)
    except ValueError:
        return False
    return bool(relative.parts) and relative.parts[0] == REVIEW_FOLDER
