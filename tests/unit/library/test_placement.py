"""library.placement.category_of_folder: the layout read backwards, to see a user's move
between category folders."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from xintud.config.schema import CategoryConfig, Config, LibraryConfig
from xintud.core.categories import CATEGORY_IDS
from xintud.library.placement import category_of_folder, render_layout


def config(layout: str = "{category}/{year}/{month}") -> Config:
    categories = {cid: CategoryConfig(folder=cid.title()) for cid in CATEGORY_IDS}
    categories["pets"] = CategoryConfig(folder="Animals/Pets")
    return Config(library=LibraryConfig(root=Path("/lib"), layout=layout),
                  categories=categories)


@pytest.mark.parametrize("layout", ["{category}/{year}/{month}", "{year}/{category}",
                                    "Sorted/{category_id}-{year}", "{category}"])
def test_every_rendered_folder_reads_back_as_its_category(layout: str) -> None:
    settings = config(layout)
    for category in CATEGORY_IDS:
        folder = render_layout(settings, category, datetime(2026, 11, 3))
        assert category_of_folder(settings, Path("/lib") / folder / "a.jpg") == category


@pytest.mark.parametrize(("relative", "category"), [
    ("Food/x.jpg", "food"),  # moved into the category folder, not its date folders
    ("Animals/Pets/2025/01/x.jpg", "pets"),
    ("Food/deeper/still/x.jpg", "food"),
    ("x.jpg", None),
    ("Foods/2026/11/x.jpg", None),
    ("Animals/x.jpg", None),
    ("_Review/Duplicates/abc/x.jpg", None),
])
def test_paths_the_user_made(relative: str, category: str | None) -> None:
    assert category_of_folder(config(), Path("/lib") / relative) == category


def test_outside_the_library_is_no_category() -> None:
    assert category_of_folder(config(), Path("/elsewhere/Food/2026/11/x.jpg")) is None
