"""The eight categories every photo is sorted into."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    """One category: a stable id (used in config, JSON and folders) and its display names."""

    id: str
    name: str
    name_zh: str


CATEGORIES: tuple[Category, ...] = (
    Category("social", "Social activity", "社交活动"),
    Category("pets", "Pets", "宠物萌照"),
    Category("single", "Single person", "单人照片"),
    Category("food", "Food", "美食记录"),
    Category("travel", "Travel & scenery", "旅行风景"),
    Category("screenshot", "Screenshot", "手机截图"),
    Category("idphoto", "ID photo", "证件照"),
    Category("other", "Other", "其它"),
)

CATEGORY_IDS: tuple[str, ...] = tuple(c.id for c in CATEGORIES)


def category_by_id(category_id: str) -> Category:
    """Return the category with this id, or raise ValueError naming the valid ids."""
    for category in CATEGORIES:
        if category.id == category_id:
            return category
    raise ValueError(f"unknown category {category_id!r}; valid: {', '.join(CATEGORY_IDS)}")


# A category of the user's own (`xintuctl teach NAME`): a name that can be a folder, a keyword
# and a JSON key as it is, and that cannot be taken for one of the eight.
_CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]{1,31}")
_RESERVED = frozenset({"shipped", "all", "none", "unknown"})


def custom_category_problem(name: str) -> str | None:
    """Why `name` cannot be a category of the user's own, or None."""
    if name in CATEGORY_IDS:
        return f"{name!r} is one of the eight categories already"
    if not _CUSTOM_NAME.fullmatch(name):
        return (f"{name!r} cannot be a category name: use 2 to 32 lowercase letters, digits "
                "or _, starting with a letter (e.g. receipts)")
    if name in _RESERVED:
        return f"{name!r} is a word xintud uses itself; choose another name"
    close = difflib.get_close_matches(name, CATEGORY_IDS, n=1, cutoff=0.8)
    if close:
        return f"{name!r} is very like the category {close[0]!r} (a typo?); choose another name"
    return None


def is_category_name(name: str) -> bool:
    """One of the eight, or a name a category of the user's own may have."""
    return name in CATEGORY_IDS or custom_category_problem(name) is None


def default_folder(name: str) -> str:
    """The folder of a category of the user's own when the config names none: "Receipts"."""
    return name.replace("_", " ").title()
