"""Categories of the user's own: `xintuctl teach NAME PATH...` (at least MIN_EXAMPLES photos,
files or folders, in the library or a watch folder), the folders the user made in the library
offered as categories (`teach --from-folder`), and `xintuctl forget NAME`.

Teaching reads every example first and changes nothing unless all of them can be read; the
examples are stored like corrections (origin "taught") and the new version is made at once.
Forgetting removes the category's examples and corrections; its photos stay where they are.
Examples are not moved: `xintuctl refile --dry-run` shows what the new category would take.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xintud.config.schema import Config
from xintud.control.protocol import ControlCommandError
from xintud.core.categories import CATEGORY_IDS, custom_category_problem
from xintud.core.facts import AnalysisFailure
from xintud.engine.classify import Classifier, Job
from xintud.intake.settle import is_ignored_name, is_image_name
from xintud.library.album_links import ALBUMS_FOLDER
from xintud.library.review import REVIEW_FOLDER
from xintud.state.corrections import Correction, Corrections

MIN_EXAMPLES = 5
MAX_EXAMPLES = 2000


@dataclass
class Teacher:
    """Adds and removes categories of the user's own."""

    corrections: Corrections
    act_lock: threading.Lock
    classifier: Callable[[], Classifier]
    config: Callable[[], Config]
    known: Callable[[], tuple[str, ...]]  # the user's categories in the version in use

    def teach(self, name: str, paths: list[Path]) -> list[tuple[str, Path]]:
        """Store the examples of a new (or growing) category; their hashes and paths.
        Changes nothing on
        an error (bad name, too few photos, a path outside the folders xintud looks after,
        a file that is not a photo)."""
        problem = custom_category_problem(name)
        if problem is not None:
            raise ControlCommandError(problem)
        files = self._example_files(paths)
        with self.act_lock:
            studied = [self.classifier().study(Job(path)) for path in files]
        bad = [s for s in studied if isinstance(s, AnalysisFailure)]
        if bad:
            shown = "; ".join(f"{s.path}: {s.error}" for s in bad[:5])
            raise ControlCommandError(f"{len(bad)} of the examples cannot be read as photos "
                                      f"({shown}); nothing was taught")
        for item in studied:
            assert not isinstance(item, AnalysisFailure)
            self.corrections.put(Correction(
                sha256=item.sha256, category=name, was=None, origin="taught", path=item.path,
                features=np.asarray(item.features, np.float32).tobytes(),
                shipped=json.dumps(item.shipped.scores)))
        return [(item.sha256, item.path) for item in studied
                if not isinstance(item, AnalysisFailure)]

    def forget(self, name: str) -> int:
        """Remove a category of the user's own; how many examples and corrections went."""
        if name in CATEGORY_IDS:
            raise ControlCommandError(f"{name!r} is one of the eight categories; only a "
                                      "category of your own can be forgotten")
        removed = self.corrections.remove_category(name)
        if not removed and name not in self.known():
            raise ControlCommandError(f"there is no category {name!r} of your own; "
                                      "`xintuctl model` lists what was learned")
        return removed

    def offers(self) -> list[dict[str, Any]]:
        """Top-level library folders that are no category's, holding >= MIN_EXAMPLES
        photos: each a category the user could teach, with the command for it."""
        config = self.config()
        root = config.library.root
        taken = {settings.folder.split("/")[0] for settings in config.categories.values()}
        offers = []
        for entry in sorted(os.scandir(root), key=lambda e: e.name) if root.is_dir() else []:
            if not entry.is_dir(follow_symlinks=False) or entry.name in taken or \
                    entry.name.startswith((".", "_")) or entry.name in (REVIEW_FOLDER,
                                                                        ALBUMS_FOLDER):
                continue
            photos = len(_images_under(Path(entry.path), limit=MAX_EXAMPLES))
            if photos >= MIN_EXAMPLES:
                name = _name_for(entry.name)
                offers.append({"folder": entry.path, "photos": photos, "name": name,
                               "command": f"xintuctl teach {name} '{entry.path}'"})
        return offers

    def _example_files(self, paths: list[Path]) -> list[Path]:
        config = self.config()
        homes = [config.library.root, *(w.path for w in config.watch)]
        files: list[Path] = []
        for path in paths:
            path = path.expanduser().absolute()
            if not any(path.is_relative_to(home) for home in homes):
                raise ControlCommandError(
                    f"{path} is outside the library ({config.library.root}) and the watch "
                    "folders; teach from photos xintud looks after, so that they stay yours "
                    "to move")
            if path.is_dir():
                files.extend(_images_under(path, MAX_EXAMPLES))
            elif path.is_file():
                files.append(path)
            else:
                raise ControlCommandError(f"{path} is neither a file nor a folder")
        unique = list(dict.fromkeys(files))
        if len(unique) < MIN_EXAMPLES:
            raise ControlCommandError(f"a category needs at least {MIN_EXAMPLES} example "
                                      f"photos; {len(unique)} given, nothing was taught")
        return unique[:MAX_EXAMPLES]


def _images_under(folder: Path, limit: int) -> list[Path]:
    found: list[Path] = []
    for where, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(where) / name
            if is_image_name(path) and not is_ignored_name(name) and not path.is_symlink():
                found.append(path)
                if len(found) >= limit:
                    return found
    return found


def _name_for(folder: str) -> str:
    """A category name for a folder ("My Receipts" -> my_receipts, whose folder it is)."""
    name = "".join(c for c in "_".join(folder.lower().split()) if c.isalnum() or c == "_")
    return name if custom_category_problem(name) is None else f"my_{name}"[:32]
