"""The config's shape: pydantic models whose Field descriptions document every key.

Strict: unknown keys are refused so that a typo cannot silently fall back to a default, and
checks across keys (overlapping folders, a layout leaving the root) raise with the key path.
config.example.toml at the repo root documents every key for people; a test keeps the two in
step.
"""

from __future__ import annotations

import logging
import os
import string
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path, PureWindowsPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from xintud.core.categories import CATEGORY_IDS, custom_category_problem, default_folder

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - exercised on 3.10 only
    pass

logger = logging.getLogger(__name__)

DEFAULT_CATEGORY_FOLDERS: Mapping[str, str] = {
    "social": "Social",
    "pets": "Pets",
    "single": "Single",
    "food": "Food",
    "travel": "Travel",
    "screenshot": "Screenshots",
    "idphoto": "ID Photos",
    "other": "Other",
}
LAYOUT_PLACEHOLDERS: tuple[str, ...] = ("category", "category_id", "year", "month", "day")
DEFAULT_LAYOUT = "{category}/{year}/{month}"

def _check_category_name(name: str) -> str:
    if name in CATEGORY_IDS:
        return name
    problem = custom_category_problem(name)
    if problem is not None:
        raise ValueError(f"unknown category id {name!r}: {problem}")
    return name


# One of the eight ids, or a category of the user's own ([categories.receipts] sets its folder).
CategoryName = Annotated[str, AfterValidator(_check_category_name)]


class KeyedValueError(ValueError):
    """A validation failure that knows its own key path (for checks across several keys)."""

    def __init__(self, key_path: str, reason: str) -> None:
        super().__init__(f"{key_path}: {reason}")
        self.key_path = key_path
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# Value checks shared by the models


def relative_folder_problem(text: str) -> str | None:
    """Why text is not a safe folder path relative to the library root, or None."""
    if not text:
        return "is empty"
    if "\0" in text:
        return "contains a NUL character"
    if "\\" in text:
        return "contains a backslash; separate folders with /"
    if text.startswith("/") or PureWindowsPath(text).drive:
        return "is absolute; it must be relative to library.root"
    for part in text.split("/"):
        if part == "":
            return "has an empty folder name (a leading, trailing or double /)"
        if part in (".", ".."):
            return f"contains {part!r}; folders must stay inside library.root"
    return None


def _check_relative_folder(text: str) -> str:
    problem = relative_folder_problem(text)
    if problem is not None:
        raise ValueError(f"{text!r} {problem}")
    return text


def _absolute_user_path(value: object) -> Path:
    """A path string from the file: ~ expanded, normalised; relative paths are refused."""
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a path string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError("path is empty")
    if "\0" in value:
        raise ValueError("path contains a NUL character")
    expanded = Path(os.path.expanduser(value))
    if not expanded.is_absolute():
        # A daemon's working directory is arbitrary, so a relative path has no clear meaning.
        raise ValueError(
            f"relative path {value!r} is refused; write it from your home as "
            f"'~/{value}' or as an absolute path"
        )
    return Path(os.path.normpath(expanded))


def _check_glob(pattern: str) -> str:
    if not pattern.strip():
        raise ValueError("pattern is empty")
    if "/" in pattern or "\\" in pattern:
        raise ValueError(
            f"{pattern!r} contains a path separator; ignore patterns match file names only"
        )
    return pattern


def layout_problem(layout: str) -> str | None:
    """Why a layout template is unusable, or None.

    Placeholders are never empty and never contain '..', so rendering the template with
    sample values shows whether any literal part could leave the library root.
    """
    try:
        fields = list(string.Formatter().parse(layout))
    except ValueError as error:
        return f"{layout!r} is not a valid template ({error}); write braces as {{{{ and }}}}"
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in LAYOUT_PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in LAYOUT_PLACEHOLDERS)
            return f"unknown placeholder {{{name}}}; known: {known}"
        if spec or conversion:
            return f"placeholder {{{name}}} cannot take a format spec or conversion"
    sample = fill_layout(layout, "Category", "other", datetime(2026, 1, 2))
    problem = relative_folder_problem(sample)
    return None if problem is None else f"{layout!r} renders to {sample!r}, which {problem}"


def _check_video_layout(layout: str) -> str:
    if layout == "leave":
        return layout
    if "{category" in layout:
        raise ValueError(f"{layout!r}: a video has no category; use {{year}}, {{month}}, "
                         '{day} or "leave"')
    return _check_layout(layout)


def _check_layout(layout: str) -> str:
    problem = layout_problem(layout)
    if problem is not None:
        raise ValueError(problem)
    return layout


def fill_layout(layout: str, folder: str, category_id: str, when: datetime) -> str:
    """The layout template with its placeholders filled in."""
    return layout.format_map({
        "category": folder,
        "category_id": category_id,
        "year": f"{when.year:04d}",
        "month": f"{when.month:02d}",
        "day": f"{when.day:02d}",
    })


def _resolved(path: Path) -> Path:
    # Symlinks are followed so a linked watch folder cannot hide inside the library.
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


# ---------------------------------------------------------------------------------------------
# Models


class _Strict(BaseModel):
    # strict: "8" is not 8 and "yes" is not true; TOML has real types, so a string is a slip.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class WatchFolder(_Strict):
    """A folder where new photos arrive."""

    path: Path = Field(description="folder to watch (absolute, or starting with ~)")
    kind: Literal["camera", "screenshots"] = Field(
        "camera", description='"camera" or "screenshots": a hint for the classifier')

    @field_validator("path", mode="before")
    @classmethod
    def _expand_path(cls, value: object) -> Path:
        return _absolute_user_path(value)


class LibraryConfig(_Strict):
    """Where and how photos are filed."""

    root: Path = Field(default_factory=lambda: Path.home() / "Pictures" / "Xintu",
                       description="the sorted library; category folders are made under it")
    action: Literal["move", "copy", "tag"] = Field(
        "move", description='"move" or "copy" photos into the library, or "tag" them in place '
                            "(an XMP sidecar beside each)")
    layout: Annotated[str, AfterValidator(_check_layout)] = Field(
        DEFAULT_LAYOUT, description="folder under root for each photo; placeholders "
                                    "{category}, {category_id}, {year}, {month}, {day}")
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0,
                                  description="a photo classified below this is handled by "
                                              "below_threshold")
    albums: bool = Field(True, description="keep Albums/ in the library: a folder of links "
                                           "to the photos of each event and trip (false: "
                                           "none)")
    videos: Annotated[str, AfterValidator(_check_video_layout)] = Field(
        "Videos/{year}/{month}", description='folder under root for a video without a photo '
        'twin, by the date it was made ({year}, {month}, {day}); "leave" leaves them')
    video_twin_wait_seconds: float = Field(
        60.0, ge=0.0, le=86400.0, description="how long a video waits for a photo of its name "
        "(a Live Photo's, uploaded separately) before it is filed as a video")
    below_threshold: Literal["leave", "other"] = Field(
        "leave", description='"leave" an unsure photo where it is, or file it as "other"')

    @field_validator("root", mode="before")
    @classmethod
    def _expand_root(cls, value: object) -> Path:
        return _absolute_user_path(value)


class CategoryConfig(_Strict):
    """Per-category settings."""

    folder: Annotated[str, AfterValidator(_check_relative_folder)] = Field(
        description="the name {category} renders to, relative to root")


class DaemonConfig(_Strict):
    """How the daemon paces itself."""

    settle_seconds: float = Field(default=3.0, gt=0.0, le=3600.0,
                                  description="size and mtime must stay unchanged this long "
                                              "before a file is read")
    batch_size: int = Field(default=8, ge=1, le=256, description="photos analysed together")
    batch_max_wait_seconds: float = Field(default=0.5, ge=0.0, le=60.0,
                                          description="how long a partial batch waits for more")
    inference_threads: int = Field(default=2, ge=1, le=256,
                                   description="CPU threads for the models")
    dry_run: bool = Field(False, description="decide and log, but move, copy and tag nothing")
    reconcile_interval_seconds: float = Field(
        default=900.0, ge=0.0, description="rescan the watch folders this often for files the "
                                           "watcher missed (0: only at start)")
    idle_unload_seconds: float = Field(default=300.0, ge=0.0,
                                       description="free the models after this long without "
                                                   "work (0: never)")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description='"debug", "info", "warning" or "error"')

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    def python_log_level(self) -> int:
        """The logging module's number for log_level."""
        return int(logging.getLevelName(self.log_level.upper()))


class EngineConfig(_Strict):
    """What the networks run on."""

    providers: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        default_factory=lambda: ["cpu"],
        description='onnxruntime execution providers in order of preference, e.g. ["cuda", '
                    '"cpu"] (full names like "CUDAExecutionProvider" too); checked against '
                    "what the installed onnxruntime offers; the CPU is always the fallback")


class LearningConfig(_Strict):
    """How the daemon learns from the user's corrections."""

    refit_after_seconds: float = Field(
        default=30.0, ge=0.0, le=86400.0,
        description="refit this long after the last correction (a burst of moves is one refit)")


def _default_watch() -> list[WatchFolder]:
    home = Path.home()
    return [
        WatchFolder(path=home / "Pictures" / "Camera", kind="camera"),
        WatchFolder(path=home / "Pictures" / "Screenshots", kind="screenshots"),
    ]


def _default_categories() -> dict[str, CategoryConfig]:
    return {cid: CategoryConfig(folder=DEFAULT_CATEGORY_FOLDERS[cid]) for cid in CATEGORY_IDS}


class Config(_Strict):
    """The whole configuration; every key has a default."""

    watch: list[WatchFolder] = Field(default_factory=_default_watch,
                                     description="folders where new photos arrive")
    library: LibraryConfig = Field(default_factory=LibraryConfig,
                                   description="where and how photos are filed")
    categories: dict[CategoryName, CategoryConfig] = Field(
        default_factory=_default_categories, description="one table per category id")
    ignore: list[Annotated[str, AfterValidator(_check_glob)]] = Field(
        default_factory=list, description="extra glob patterns on file names to skip")
    daemon: DaemonConfig = Field(default_factory=DaemonConfig,
                                 description="how the daemon paces itself")
    engine: EngineConfig = Field(default_factory=EngineConfig,
                                 description="what the networks run on")
    learning: LearningConfig = Field(default_factory=LearningConfig,
                                     description="how the daemon learns from corrections")

    @field_validator("watch", mode="after")
    @classmethod
    def _some_watch_folder(cls, value: list[WatchFolder]) -> list[WatchFolder]:
        if not value:
            raise ValueError("no folder to watch; list at least one [[watch]] table, or leave "
                             "the key out for the defaults")
        return value

    @field_validator("categories", mode="before")
    @classmethod
    def _default_folder_names(cls, value: object) -> object:
        # [categories.food] without `folder` keeps the default "Food", not an error.
        if not isinstance(value, Mapping):
            return value
        filled: dict[Any, Any] = {}
        for cid, table in value.items():
            if isinstance(table, Mapping) and "folder" not in table and isinstance(cid, str):
                table = {**table, "folder": DEFAULT_CATEGORY_FOLDERS.get(cid)
                         or default_folder(cid)}
            filled[cid] = table
        return filled

    @field_validator("categories", mode="after")
    @classmethod
    def _all_categories(cls, value: dict[str, CategoryConfig]) -> dict[str, CategoryConfig]:
        defaults = _default_categories()
        custom = {name: table for name, table in value.items() if name not in CATEGORY_IDS}
        return {**{cid: value.get(cid, defaults[cid]) for cid in CATEGORY_IDS}, **custom}

    def with_categories(self, names: Sequence[str]) -> Config:
        """This config with a folder for each category of the user's own it has none for
        (taught with `xintuctl teach`; the folder defaults to the name, capitalised)."""
        missing = {name: CategoryConfig(folder=default_folder(name)) for name in names
                   if name not in self.categories}
        if not missing:
            return self
        return self.model_copy(update={"categories": {**self.categories, **missing}})

    @model_validator(mode="after")
    def _folders_do_not_overlap(self) -> Config:
        check_watch_folders(self.watch)
        if self.library.action != "tag":
            # Tagging leaves photos where they are, so only filing can loop.
            check_library_outside_watch(self.library.root, self.watch)
        return self


def check_watch_folders(watch: Sequence[WatchFolder]) -> None:
    """Refuse a watch folder listed twice or inside another (each photo would come twice)."""
    resolved = [_resolved(folder.path) for folder in watch]
    for later in range(len(watch)):
        for earlier in range(later):
            if _overlaps(resolved[later], resolved[earlier]):
                raise KeyedValueError(
                    f"watch[{later}].path",
                    f"{watch[later].path} overlaps watch[{earlier}].path {watch[earlier].path}"
                    f" (the same folder, or one inside the other). Fix: list only the outer "
                    f"folder once",
                )


def check_library_outside_watch(root: Path, watch: Sequence[WatchFolder]) -> None:
    """Refuse a watch folder inside the library root or containing it (endless re-filing)."""
    real_root = _resolved(root)
    for index, folder in enumerate(watch):
        real_watch = _resolved(folder.path)
        if not _overlaps(real_watch, real_root):
            continue
        where = "is inside" if real_watch.is_relative_to(real_root) else "contains"
        if real_watch == real_root:
            where = "is the same folder as"
        raise KeyedValueError(
            f"watch[{index}].path",
            f"{folder.path} {where} library.root {root}; filed photos would be seen as new "
            f"and filed again forever. Fix: choose a library.root outside every watch folder "
            f"(or use action = \"tag\")",
        )


# ---------------------------------------------------------------------------------------------
# Loading


