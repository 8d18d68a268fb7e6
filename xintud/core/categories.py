"""The eight categories every photo is sorted into."""

from __future__ import annotations

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
